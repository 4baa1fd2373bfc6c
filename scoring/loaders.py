"""DataLoaders of the scoring domain, one instance per request."""

from __future__ import annotations

from core.api import ContextLoader
from scoring import certification


class CurrentCertificateByProviderLoader(ContextLoader):
    """Each provider's current certificate (or None), for a page of providers in one statement."""

    async def load_batch(self, session, keys):
        current = await certification.current_certificates(session, keys)
        return [current.get(key) for key in keys]
