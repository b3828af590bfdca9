-- GET of one fixed path (the URL's), with the token: the filtered booking list page,
-- GET /status.
-- Arguments after `--`: KEY
package.path = debug.getinfo(1, "S").source:match("^@(.*/)") .. "?.lua;" .. package.path
local common = require("common")
setup, done = common.setup, common.done

function init(args)
  for name, value in pairs(common.headers(args[1])) do
    wrk.headers[name] = value
  end
end
