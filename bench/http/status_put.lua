-- PUT /status: one of the business's own statuses at random, its sortOrder alternating
-- between its value and the next (so every other PUT of a status changes it).
-- Arguments after `--`: KEY TARGETS_FILE, whose lines are
--   SORT_ORDER<TAB>{"statusId":..,"businessId":..,"status":..,"subStatus":..,"sortOrder":
-- (the body up to its last value).
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup, done = common.setup, common.done

local headers
local targets = {}
local sent = 0

function init(args)
  headers = common.headers(args[1])
  for _, line in ipairs(common.read_lines(args[2])) do
    local sort_order, prefix = line:match("^(%d+)\t(.*)$")
    targets[#targets + 1] = { tonumber(sort_order), prefix }
  end
  common.seed()
end

function request()
  sent = sent + 1
  local target = targets[math.random(#targets)]
  local body = target[2] .. (target[1] + sent % 2) .. "}"
  return wrk.format("PUT", "/status", headers, body)
end
