-- wrk script: realistic Convead traffic for POST /watch/event, in the PHP
-- client's wire format (form-encoded, `data` = the event as JSON with `\/` and
-- `\uXXXX` escapes, uids left out when empty, as PHP tracker 1.2.x sends them).
--
--   wrk -t2 -c64 -d12s -s bench/convead.lua http://127.0.0.1:8080/watch/event \
--       -- APPKEY 10 42
--
-- Arguments after `--`: app key, measured seconds, seed.
--
-- The traffic: each wrk thread keeps 256 browsing sessions; every request picks
-- one at random. A session is an anonymous guest (a fresh guest uid) that views
-- 5 to 25 pages, then leaves and a new guest takes its place. The mix is mostly
-- `link` and `view_product`, then cart changes (`add_to_cart`,
-- `remove_from_cart`, `update_cart`), a few `purchase`s with unique order ids,
-- a few `custom` events. Some guests log in: that event carries both uids (the
-- guest→visitor link) and from then on the session sends both, with
-- `visitor_info`, as the PHP plugins do. Customers are drawn from a pool of
-- 50,000, so a customer who logs in on a second device merges that guest's
-- anonymous profile into the existing one.
--
-- Exact accounting: after the measured seconds, `delay()` holds every
-- connection idle once its last response is in, so nothing is in flight when
-- wrk's own (longer) -d ends: every request sent was answered, and the 200s
-- counted here are exactly the events the server acknowledged. `done()` prints
-- one JSON line (prefixed with BENCH_JSON) with the counts, the active window
-- and the latency percentiles.

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local timespec = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

-- ---------------------------------------------------------------- main state
local threads = {}

function setup(thread)
  threads[#threads + 1] = thread
  thread:set("tid", #threads)
end

-- -------------------------------------------------------------- each thread
local random = math.random
local concat = table.concat

-- PHP's urlencode (http_build_query): all but [A-Za-z0-9_.-] as %XX, space as +.
local function urlencode(s)
  s = s:gsub("[^%w%-_%. ]", function(c) return string.format("%%%02X", c:byte()) end)
  return (s:gsub(" ", "+"))
end

-- Constant JSON pieces are encoded once: url-encoding works char by char, so
-- the encoding of a concatenation is the concatenation of the encodings. Values
-- built per request are only [A-Za-z0-9_.-] and need no encoding.
local memo = {}
local function e(s)
  local v = memo[s]
  if v == nil then
    v = urlencode(s)
    memo[s] = v
  end
  return v
end

local app_key, seed, deadline -- `tid` is a global set by setup()
local sessions, SESSIONS = {}, 256
local CUSTOMERS, PRODUCTS = 50000, 5000
local guest_serial, order_serial = 0, 0
sent, t_first, t_last = 0, nil, nil
mix = {}

local NAMES = { -- as PHP's json_encode writes them: \uXXXX, \/
  "Product", "Running shoes", "Wool socks 3\\/pack", "\\u0411\\u043e\\u0442\\u0438\\u043d\\u043a\\u0438 \\\"Winter\\\" 42\\/43",
  "\\u041a\\u0443\\u0440\\u0442\\u043a\\u0430", "T-shirt \\u2014 blue", "Backpack 25l", "Gift card",
}
local TITLES = {
  "Home", "Shoes \\u2014 page 2", "Sale", "\\u041a\\u0430\\u0442\\u0430\\u043b\\u043e\\u0433", "Cart", "Delivery & returns",
}
local FIRST = { "Olga", "Ivan", "Anna", "\\u0418\\u0432\\u0430\\u043d", "Maria", "Peter" }
local HEADERS = {
  ["Content-Type"] = "application/x-www-form-urlencoded; charset=utf-8",
  ["Accept"] = "application/json, text/javascript, */*; q=0.01",
}

local function new_session(s)
  guest_serial = guest_serial + 1
  s.guest = "g" .. seed .. "t" .. tid .. "n" .. guest_serial
  s.visitor = nil
  s.info = nil
  s.cart = {}
  s.left = random(5, 25)
  return s
end

local function price(pid)
  return string.format("%d.%02d", 5 + pid % 190, pid % 100)
end

local function product_url(pid)
  return e('http:\\/\\/shop.example.com\\/p\\/') .. pid
end

local function items_json(cart)
  local parts = {}
  for i, pid in ipairs(cart) do
    -- PHP plugins send product_id and qnt as they have them: numbers or strings.
    if pid % 2 == 0 then
      parts[i] = e('{"product_id":') .. pid .. e(',"qnt":1,"price":') .. price(pid) .. e('}')
    else
      parts[i] = e('{"product_id":"') .. pid .. e('","qnt":"2","price":"') .. price(pid) .. e('"}')
    end
  end
  return e("[") .. concat(parts, e(",")) .. e("]")
end

-- One event: the url-encoded `data` JSON and the form's uid fields.
local function event(s)
  local r = random(100)
  local etype, props, page = "link", nil, nil
  local pid = random(PRODUCTS)
  if r <= 46 then
    local t = random(#TITLES)
    page = e('","title":"') .. e(TITLES[t]) .. e('","path":"\\/catalog\\/') .. t .. e('?page=') .. random(9)
  elseif r <= 78 then
    etype = "view_product"
    props = e('{"product_id":"') .. pid .. e('","product_name":"') .. e(NAMES[pid % #NAMES + 1])
        .. e('","product_url":"') .. product_url(pid) .. e('","category_id":"') .. (pid % 40)
        .. e('","price":"') .. price(pid) .. e('"}')
  elseif r <= 87 then
    etype = "add_to_cart"
    s.cart[#s.cart + 1] = pid
    props = e('{"product_id":"') .. pid .. e('","qnt":"1","price":"') .. price(pid)
        .. e('","product_name":"') .. e(NAMES[pid % #NAMES + 1]) .. e('","product_url":"')
        .. product_url(pid) .. e('"}')
  elseif r <= 90 then
    if #s.cart > 0 then
      pid = table.remove(s.cart, random(#s.cart))
    end
    etype = "remove_from_cart"
    props = e('{"product_id":"') .. pid .. e('","qnt":1}')
  elseif r <= 94 then
    etype = "update_cart"
    if #s.cart > 3 then
      s.cart = { s.cart[1], s.cart[2] }
    end
    props = e('{"items":') .. items_json(s.cart) .. e("}")
  elseif r <= 96 then
    etype = "purchase"
    if #s.cart == 0 then
      s.cart = { pid, random(PRODUCTS) }
    end
    order_serial = order_serial + 1
    local revenue = 0
    for _, p in ipairs(s.cart) do
      revenue = revenue + tonumber(price(p)) * (p % 2 == 0 and 1 or 2)
    end
    props = e('{"order_id":"') .. "o" .. seed .. "t" .. tid .. "n" .. order_serial
        .. e('","revenue":') .. string.format("%.2f", revenue) .. e(',"items":')
        .. items_json(s.cart) .. e(',"state":"new"}')
    s.cart = {}
  elseif r <= 98 then
    etype = "custom"
    props = e('{"key":"newsletter_signup","source":"footer"}')
  else
    -- A log-in: this guest becomes (or turns out to be) a customer.
    if s.visitor == nil then
      local c = random(CUSTOMERS)
      s.visitor = "cust" .. seed .. "n" .. c
      s.info = e('{"first_name":"') .. e(FIRST[c % #FIRST + 1]) .. e('","email":"') .. "c" .. c
          .. e("@example.com") .. e('","language":"ru"}')
    end
    page = e('","title":"My account","path":"\\/account')
  end
  mix[etype] = (mix[etype] or 0) + 1

  local uids, form_uids
  if s.visitor then
    uids = e('","guest_uid":"') .. s.guest .. e('","visitor_uid":"') .. s.visitor
    form_uids = "&visitor_uid=" .. s.visitor .. "&guest_uid=" .. s.guest
  else
    uids = e('","guest_uid":"') .. s.guest
    form_uids = "&guest_uid=" .. s.guest
  end
  local parts = {
    e('{"app_key":"'), app_key, uids, e('","domain":"shop.example.com"'),
  }
  if s.info then
    parts[#parts + 1] = e(',"visitor_info":') .. s.info
  end
  if etype == "link" then
    parts[#parts + 1] = e(',"url":"http:\\/\\/shop.example.com\\/catalog","host":"shop.example.com","type":"link')
    parts[#parts + 1] = page
    parts[#parts + 1] = e('"}')
  else
    parts[#parts + 1] = e(',"url":"http:\\/\\/shop.example.com","host":"shop.example.com","type":"')
    parts[#parts + 1] = etype
    parts[#parts + 1] = e('","properties":')
    parts[#parts + 1] = props
    parts[#parts + 1] = e("}")
  end
  return "app_key=" .. app_key .. form_uids .. "&data=" .. concat(parts)
end

function init(args)
  app_key = args[1] or "BENCHKEY"
  local duration = tonumber(args[2] or "10")
  seed = tonumber(args[3] or "1")
  math.randomseed(seed * 7919 + tid)
  for i = 1, SESSIONS do
    sessions[i] = new_session({})
  end
  deadline = now() + duration
end

function request()
  local s = sessions[random(SESSIONS)]
  local body = event(s)
  s.left = s.left - 1
  if s.left <= 0 then
    new_session(s)
  end
  return wrk.format("POST", nil, HEADERS, body)
end

-- Called before each request a connection sends (request() follows at once
-- when it returns 0): 0 until the deadline, then an hour, so that a connection
-- whose last response is in sends nothing more. Requests are counted here, not
-- in request(), which wrk also calls once at start-up to check the script.
function delay()
  local t = now()
  if t >= deadline then
    t_last = t
    return 3600000
  end
  if t_first == nil then
    t_first = t
  end
  sent = sent + 1
  return 0
end

-- ---------------------------------------------------------------- the report
function done(summary, latency, requests)
  local total_sent, first, last = 0, nil, nil
  local types = {}
  for _, thread in ipairs(threads) do
    total_sent = total_sent + (thread:get("sent") or 0)
    local tf, tl = thread:get("t_first"), thread:get("t_last")
    if tf and (first == nil or tf < first) then first = tf end
    if tl and (last == nil or tl > last) then last = tl end
    for k, v in pairs(thread:get("mix") or {}) do
      types[k] = (types[k] or 0) + v
    end
  end
  local type_parts = {}
  for k, v in pairs(types) do
    type_parts[#type_parts + 1] = string.format('"%s":%d', k, v)
  end
  local err = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"sent":%d,"window_s":%.6f,"duration_s":%.6f,' ..
    '"non_2xx":%d,"connect_errors":%d,"read_errors":%d,"write_errors":%d,"timeouts":%d,' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d,"mean":%.1f},"mix":{%s}}\n',
    summary.requests, total_sent, (last or 0) - (first or 0), summary.duration / 1e6,
    err.status, err.connect, err.read, err.write, err.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean, concat(type_parts, ",")))
end
