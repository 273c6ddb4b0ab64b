"""Runtime: the sandboxes that run skill code, the step executors and the egress guard."""
