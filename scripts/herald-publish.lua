-- herald-publish.lua: give a message the next sequence number of its topic,
-- append it to the topic's bounded history and publish it, atomically.
--
--   KEYS[1]  seq counter   <prefix>{<topic>}:seq       (e.g. herald:{user:42}:seq)
--   KEYS[2]  history       <prefix>{<topic>}:history   (e.g. herald:{user:42}:history)
--   ARGV[1]  channel       <prefix><topic>             (e.g. herald:user:42)
--   ARGV[2]  payload       any bytes
--   ARGV[3]  maxLength     entries kept (approximately, MAXLEN ~)
--   ARGV[4]  maxAgeMs      entries older than this are trimmed; 0 = no age limit
--   returns  the message's sequence number
--
-- redis-cli:
--   SHA=$(redis-cli SCRIPT LOAD "$(cat scripts/herald-publish.lua)")
--   redis-cli EVALSHA $SHA 2 'herald:{user:42}:seq' 'herald:{user:42}:history' herald:user:42 'hello' 1000 300000
--
-- The channel message is 0x00 'H' <seq> '\n' <payload>; herald strips the header,
-- so raw clients get the payload unchanged and envelope clients get the seq.
-- Stream entry IDs are <seq>-0, so XRANGE can start at any seq directly.

local seq = redis.call('INCR', KEYS[1])
local maxLength = tonumber(ARGV[3])
local maxAgeMs = tonumber(ARGV[4])
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)

redis.call('XADD', KEYS[2], 'MAXLEN', '~', maxLength, seq .. '-0', 'd', ARGV[2], 't', nowMs)

local function entryTime(entry)
  local fields = entry[2]
  for i = 1, #fields, 2 do
    if fields[i] == 't' then return tonumber(fields[i + 1]) end
  end
  return nil
end

if maxAgeMs > 0 then
  -- IDs are seqs, not times, so age trimming reads the oldest entries' t field
  -- and cuts at the first young one. Amortised O(1): a live topic reads one
  -- entry per publish, and each entry is read once more when it expires.
  local cutoff = nowMs - maxAgeMs
  local head = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 1)
  if #head > 0 and (entryTime(head[1]) or cutoff) < cutoff then
    for _ = 1, 16 do
      local oldest = redis.call('XRANGE', KEYS[2], '-', '+', 'COUNT', 64)
      local keep = nil
      for _, entry in ipairs(oldest) do
        local t = entryTime(entry)
        if t == nil or t >= cutoff then keep = entry[1]; break end
      end
      if keep ~= nil then
        redis.call('XTRIM', KEYS[2], 'MINID', keep)
        break
      end
      -- All 64 expired (the newest entry never is, so more follow): drop them and look again.
      redis.call('XTRIM', KEYS[2], 'MINID', (tonumber(string.match(oldest[#oldest][1], '^(%d+)')) + 1) .. '-0')
    end
  end
  -- An idle topic's whole history expires with its newest entry.
  redis.call('PEXPIRE', KEYS[2], maxAgeMs)
end

redis.call('PUBLISH', ARGV[1], '\0H' .. seq .. '\n' .. ARGV[2])
return seq
