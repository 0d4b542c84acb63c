"""Inputs both halves of a feed's dialect tests share: made-up credentials and templates.

The pure tests give these to a dialect directly; the live tests give the same values to
the feed and to the simulator or test server it talks to. None of them is a real secret.
"""

from __future__ import annotations

#: An Axol API key the simulator accepts (paid tier).
AXOL_KEY = "axol_sim_testkey0123456789abcdef"

#: A Hydra v1 API key the simulator accepts.
HYDRA_V1_KEY = "hydra_k1_testkey0123456789abcdef"

#: A Hyperoru session token the simulator accepts.
HYPERORU_TOKEN = "hyo_sim_test_token_0123456789abcdef"

#: A session token of the Pusher-compatible stream's simulator.
PUSHER_TOKEN = "sk_sim_testtoken0123456789abcd"

#: A plain Pusher app's key; the app's own session credential and the header carrying it,
#: which goes in ``auth_headers``, to the auth endpoints only.
PUSHER_APP_KEY = "app-key-7f3a"
PUSHER_APP_TOKEN = "sk_app_session_Zq8vW2xR4tY6uI0oP3aS5dF7"
PUSHER_APP_HEADERS = {"Authorization": f"Bearer {PUSHER_APP_TOKEN}"}

#: A key for the generic dialect's auth placements, and its Binance-style subscribe template.
GENERIC_KEY = "sk-live-7f3a9c2e41b8d6"
GENERIC_SUBSCRIBE = {"method": "SUBSCRIBE", "params": "{streams}", "id": "{id}"}
