"""Identity adapters: who a token belongs to, asked of an outside identity service.

They implement :class:`volclone.service.auth.Authenticator`; ``volclone.bootstrap`` picks one.
"""
