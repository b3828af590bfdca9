-- GET /v2/bookings/{id}: a random booking of the token's business.
-- Arguments after `--`: KEY IDS_FILE (one booking id a line).
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup, done = common.setup, common.done

local headers, ids

function init(args)
  headers = common.headers(args[1])
  ids = common.read_lines(args[2])
  common.seed()
end

function request()
  return wrk.format("GET", "/v2/bookings/" .. ids[math.random(#ids)], headers)
end
