"""The X client: signing, calling and reading X's answers. Knows nothing of queues or Redis.

    client.py       XClient: one OAuth 1.0a signer per account on a per-process session pool
    answers.py      `read_answer`, the one function that maps X's answers onto results and the
                    error tree
    credentials.py  an account's OAuth 1.0a credentials, validated; the user id in the token
    oauth2.py   OAuth 2.0 (PKCE, token exchange and refresh) for accounts authorised that way
"""
