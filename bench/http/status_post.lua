-- POST /status: each request a new subStatus, unique across threads and runs
-- ("bench <run> <thread>-<n>"; run.py deletes them between runs).
-- Arguments after `--`: KEY BUSINESS_ID RUN_TAG
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup, done = common.setup, common.done

local headers, prefix
local sent = 0

function init(args)
  headers = common.headers(args[1])
  prefix = '{"statusId":null,"businessId":' .. args[2]
    .. ',"status":"OPEN","subStatus":"bench ' .. args[3] .. " " .. thread_id .. "-"
end

function request()
  sent = sent + 1
  return wrk.format("POST", "/status", headers, prefix .. sent .. '"}')
end
