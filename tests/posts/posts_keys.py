"""The keys the posting tests configure; none may appear in a log line, an exception, a post
or a stored row."""

from __future__ import annotations

from repfit.config import Secret

KEYS = {
    "api_key": Secret("XKEYxkeyAAAA1111"), "api_secret": Secret("XSECRETxsecretBBBB2222"),
    "access_token": Secret("XTOKENxtokenCCCC3333"),
    "access_token_secret": Secret("XTSECRETxtsecretDDDD4444"),
    "mastodon": Secret("MTOKENmtokenEEEE5555"), "bluesky": Secret("bsky-app-pass-FFFF-6666"),
    "webhook": Secret("https://hooks.example.net/services/T000/B000/WHSECRETwhsecret7777"),
}
SECRETS = [k.reveal() for k in KEYS.values()] + ["WHSECRETwhsecret7777"]
