"""Connected services: operators' credentials for the credential proxy, encrypted at rest."""
