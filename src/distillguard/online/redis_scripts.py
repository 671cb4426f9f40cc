"""Lua scripts of the Redis state: one round trip per decision and per observed exchange.

Each script runs atomically inside Redis (``EVALSHA``; redis-py loads it again after a
Redis restart). Key names are built from the prefix passed as the first argument, so
the scripts target a standalone Redis (or one Redis per replica group), not a cluster.
"""

from __future__ import annotations

__all__ = ["OBSERVE", "VIEW"]

#: The decision's snapshot, counting the request in its fixed window.
#:
#: ``KEYS``: window counter, account hash, then ``n`` indicator lookups as
#: ``ind:<kind>|<value>`` keys. ``ARGV``: prefix, account, window seconds * 2 (the
#: counter's expiry; ``0``: read only, do not count), ``n``, then the ``n`` indicator
#: fields of ``ind:batch``.
#:
#: Returns: window count before this request, feat, events, enf, challenge, verified,
#: registry record, verdict, verdicts_at, distinct ip / api_key / user_agent (HLL),
#: payment banned-by / batch campaign / learnt campaign, then ``n`` batch and ``n``
#: learnt indicator campaigns (``false`` where absent).
VIEW = """
local p, acct, ttl, n = ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
local count
if ttl > 0 then
  count = redis.call('INCR', KEYS[1]) - 1
  if count == 0 then redis.call('EXPIRE', KEYS[1], ttl) end
else
  count = tonumber(redis.call('GET', KEYS[1]) or '0')
end
local a = redis.call('HMGET', KEYS[2], 'feat', 'events', 'enf', 'challenge', 'verified')
local reg = redis.call('HGET', p .. 'reg', acct)
local out = {count, a[1], a[2], a[3], a[4], a[5], reg,
  redis.call('HGET', p .. 'verdicts', acct), redis.call('GET', p .. 'verdicts_at'),
  redis.call('PFCOUNT', p .. 'hll:ip:' .. acct),
  redis.call('PFCOUNT', p .. 'hll:api_key:' .. acct),
  redis.call('PFCOUNT', p .. 'hll:user_agent:' .. acct), false, false, false}
if reg then
  local ok, rec = pcall(cjson.decode, reg)
  local pay = ok and type(rec) == 'table' and rec['payment_fingerprint']
  if type(pay) == 'string' and pay ~= '' then
    out[13] = redis.call('HGET', p .. 'banpay', pay)
    out[14] = redis.call('HGET', p .. 'ind:batch', 'shared_payment|' .. pay)
    out[15] = redis.call('GET', p .. 'ind:shared_payment|' .. pay)
  end
end
if n > 0 then
  local fields = {}
  for i = 1, n do fields[i] = ARGV[4 + i] end
  local batch = redis.call('HMGET', p .. 'ind:batch', unpack(fields))
  for i = 1, n do out[#out + 1] = batch[i] end
  for i = 1, n do out[#out + 1] = redis.call('GET', KEYS[2 + i]) end
end
return out
"""

#: Merge one observed exchange: compare-and-set of the feature state, event count and
#: distinct counts, atomically.
#:
#: ``KEYS``: account hash, HLL of addresses, of API keys, of user agents. ``ARGV``:
#: expected version, state JSON, features JSON (empty: count the event only), then the
#: address, API key and user agent (empty: none).
#:
#: The version is ``ver`` of the hash; a hash written before versions existed (a
#: ``state`` without ``ver``) is version -1. Returns ``{1, new version}`` when written,
#: ``{0, current version, current state}`` when the version moved on (nothing written).
OBSERVE = """
local key = KEYS[1]
if ARGV[3] ~= '' then
  local ver = tonumber(redis.call('HGET', key, 'ver') or '')
  if not ver then
    if redis.call('HEXISTS', key, 'state') == 1 then ver = -1 else ver = 0 end
  end
  if ver ~= tonumber(ARGV[1]) then
    return {0, ver, redis.call('HGET', key, 'state')}
  end
  local new = math.max(ver, 0) + 1
  redis.call('HSET', key, 'state', ARGV[2], 'feat', ARGV[3], 'ver', new)
  ARGV[1] = new
end
redis.call('HINCRBY', key, 'events', 1)
for i = 1, 3 do
  if ARGV[3 + i] ~= '' then redis.call('PFADD', KEYS[1 + i], ARGV[3 + i]) end
end
return {1, tonumber(ARGV[1])}
"""
