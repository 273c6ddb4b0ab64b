// Lockdown prelude, evaluated first in every fresh QuickJS context (see docs/sandbox.md).
// It (1) disables eval and every Function constructor, (2) removes what no transform needs,
// (3) installs proxy_fetch as a promise-queue bridge and (4) returns a dispatcher that only
// the worker holds: scripts never see it. Everything it relies on is captured up front, so a
// script that pollutes prototypes cannot change what the bridge reports.
(() => {
  'use strict';
  const G = globalThis;
  const { defineProperty, getPrototypeOf, create, keys } = Object;
  const apply = Reflect.apply;
  const stringify = JSON.stringify;
  const parse = JSON.parse;
  const Str = String;
  const capture = Error.captureStackTrace;
  const PromiseCtor = Promise;
  const then = Promise.prototype.then;
  const MapCtor = Map;
  const mapGet = Map.prototype.get, mapSet = Map.prototype.set, mapDelete = Map.prototype.delete;
  const wsAdd = WeakSet.prototype.add, wsHas = WeakSet.prototype.has;
  const wmGet = WeakMap.prototype.get, wmSet = WeakMap.prototype.set;
  const mapSize = Object.getOwnPropertyDescriptor(Map.prototype, 'size').get;
  const join = Array.prototype.join;
  const strSlice = String.prototype.slice;
  // quickjs-ng keeps long concatenations as ropes, which the Python binding cannot convert
  // ("Unknown quickjs tag: -6"); slice() returns a flat copy. Every string leaving goes here.
  const flat = (s) => apply(strSlice, s, [0]);
  const EvalErr = EvalError;
  const forbidden = new WeakSet();
  const fetchErrors = new WeakMap();
  const lock = (obj, name, value) =>
    defineProperty(obj, name, { value, writable: false, enumerable: false, configurable: false });

  // 1. A thrower per disabled capability; its errors are recognised by identity (WeakSet).
  const forbid = (what, proto) => {
    const thrower = function () {
      const err = new EvalErr(`SCRIPT_FORBIDDEN: ${what} is disabled in the sandbox`);
      capture(err, thrower);
      apply(wsAdd, forbidden, [err]);
      throw err;
    };
    if (proto) lock(thrower, 'prototype', proto); // keeps `x instanceof Function` working
    return thrower;
  };
  const fnProtos = [function () {}, async function () {}, function* () {}, async function* () {}]
    .map((f) => getPrototypeOf(f));
  for (const proto of fnProtos) lock(proto, 'constructor', forbid('the Function constructor', proto));
  lock(G, 'Function', fnProtos[0].constructor);
  lock(G, 'eval', forbid('eval'));
  lock(G, 'require', forbid('require'));
  lock(G, 'importScripts', forbid('importScripts'));
  lock(G, 'fetch', forbid('fetch (use proxy_fetch)'));

  // 2. Shared memory and blocking waits are useless here and only widen the surface.
  delete G.SharedArrayBuffer;
  delete G.Atomics;

  // 3. proxy_fetch: enqueue a request, hand back a promise the host settles later.
  let nextId = 1;
  let queue = [];
  const pending = new MapCtor();
  class ProxyFetchError extends Error {
    constructor(message, code) {
      super(message);
      this.name = 'ProxyFetchError';
      this.code = code;
    }
  }
  lock(G, 'ProxyFetchError', ProxyFetchError);
  const asText = (v) => (v === undefined || v === null ? null : Str(v));
  let maxFetches = 0;
  const proxyFetch = function proxy_fetch(url, opts) {
    if (nextId > maxFetches) {
      // Refused here, so a loop of calls never floods the host with requests.
      const err = new ProxyFetchError(`at most ${maxFetches} proxy_fetch calls per run`, 'FETCH_LIMIT');
      return new PromiseCtor((_, reject) => reject(err));
    }
    const o = opts === undefined || opts === null ? {} : opts;
    const headers = create(null);
    if (o.headers !== undefined && o.headers !== null) {
      for (const k of keys(o.headers)) headers[Str(k)] = Str(o.headers[k]);
    }
    const req = create(null);
    req.id = nextId++;
    req.url = Str(url);
    req.method = asText(o.method);
    req.service = asText(o.service);
    req.headers = headers;
    req.body = asText(o.body);
    queue[queue.length] = stringify(req);
    return new PromiseCtor((resolve, reject) => apply(mapSet, pending, [req.id, { resolve, reject }]));
  };
  defineProperty(G, 'proxy_fetch', { value: proxyFetch, writable: true, configurable: true });

  // 4. Result bookkeeping and the dispatcher the worker calls.
  let status = 0; // 0 pending, 1 ok, 2 error
  let output = null;
  let failure = null;
  const describe = (err) => {
    const info = create(null);
    try {
      if (apply(wsHas, forbidden, [err])) info.kind = 'forbidden';
      else if (err !== null && typeof err === 'object' && apply(wmGet, fetchErrors, [err]) !== undefined) {
        info.kind = 'fetch';
        info.fetch_id = apply(wmGet, fetchErrors, [err]);
      } else info.kind = 'error';
      info.name = err !== null && typeof err === 'object' ? Str(err.name) : typeof err;
      info.message = err !== null && typeof err === 'object' ? Str(err.message) : Str(err);
      info.stack = err !== null && typeof err === 'object' ? Str(err.stack) : '';
    } catch (_) {
      info.kind = info.kind || 'error';
      info.name = info.name || 'Error';
      info.message = info.message || 'the thrown value could not be described';
    }
    return stringify(info);
  };
  let maxOutput = 0;
  const onDone = (value) => {
    if (typeof value === 'string' && value.length > maxOutput) {
      status = 2; // UTF-8 never has fewer bytes than UTF-16 units: certainly too large
      failure = stringify({ kind: 'output_too_large', name: 'RangeError', message: `${value.length}` });
      return;
    }
    if (typeof value !== 'string') {
      status = 2;
      failure = stringify({ kind: 'type', name: 'TypeError',
        message: `the script must return a string, not ${value === null ? 'null' : typeof value}` });
      return;
    }
    status = 1;
    output = value;
  };
  const onFail = (err) => {
    status = 2;
    failure = describe(err);
  };
  return (op, a, b, c, d) => {
    if (op === 'start') {
      maxOutput = c;
      maxFetches = d;
      apply(then, a(b), [onDone, onFail]);
      return null;
    }
    if (op === 'status') return status;
    if (op === 'output') return flat(output);
    if (op === 'failure') return flat(failure);
    if (op === 'describe') return flat(describe(a));
    if (op === 'drain') {
      const out = '[' + apply(join, queue, [',']) + ']';
      queue = [];
      return flat(out);
    }
    if (op === 'pending') return apply(mapSize, pending, []);
    if (op === 'settle') {
      const entry = apply(mapGet, pending, [a]);
      if (entry === undefined) return false;
      apply(mapDelete, pending, [a]);
      const payload = parse(c);
      if (b) entry.resolve(payload);
      else {
        const err = new ProxyFetchError(Str(payload.message), Str(payload.code));
        apply(wmSet, fetchErrors, [err, a]);
        entry.reject(err);
      }
      return true;
    }
    return null;
  };
})()
