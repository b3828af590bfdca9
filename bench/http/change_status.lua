-- POST /v2/bookings/{id}/change_status: a random booking of the token's business to a
-- random stamped status (the moment is now: no status_at in the body).
-- Arguments after `--`: KEY IDS_FILE (one booking id a line).
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup, done = common.setup, common.done

local headers, ids
local bodies = {
  '{"status":"tentative"}',
  '{"status":"definite"}',
  '{"status":"lost"}',
}

function init(args)
  headers = common.headers(args[1])
  ids = common.read_lines(args[2])
  common.seed()
end

function request()
  local path = "/v2/bookings/" .. ids[math.random(#ids)] .. "/change_status"
  return wrk.format("POST", path, headers, bodies[math.random(#bodies)])
end
