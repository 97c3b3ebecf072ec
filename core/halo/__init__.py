"""Talking to Halo: the REST client, its token, pacing under the rate limit, error translation."""
