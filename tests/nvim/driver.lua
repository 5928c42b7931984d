-- Test driver for tests/test_neovim.py, loaded after editors/neovim/code_evolver.lua.
-- Opens $CE_FILE, waits for the code-evolver client, saves the file so the server (run_on_save)
-- publishes the failure as a diagnostic, presses the snippet's <leader>ca on that line with
-- vim.ui.select answering "Fix with ..." for the user, waits for the buffer to change, writes
-- its lines to $CE_OUT and quits: exit 0 on success, 1 (cquit) on any failure or timeout.
-- Everything seen on the way goes to $CE_LOG.
-- $CE_MODE=command removes codeAction resolveSupport from the client's capabilities, as an
-- editor without resolve would, so the server attaches its command instead.
local file, out, log_path = os.getenv('CE_FILE'), os.getenv('CE_OUT'), os.getenv('CE_LOG')
local mode = os.getenv('CE_MODE') or 'resolve'
local timeout = tonumber(os.getenv('CE_TIMEOUT_MS') or '60000')

local log_file = assert(io.open(log_path, 'w'))
local function log(fmt, ...)
  log_file:write(string.format(fmt, ...), '\n')
  log_file:flush()
end

local finished = false
local function finish(ok, why)
  if finished then return end
  finished = true
  log(ok and 'OK' or ('FAILED: ' .. tostring(why)))
  log_file:close()
  vim.cmd(ok and 'qall!' or 'cquit 1')
end

-- Record what the user would see, and the server's edits, instead of drawing them.
vim.notify = function(msg, level) log('notify[%s] %s', tostring(level), tostring(msg)) end
for _, method in ipairs({ 'window/showMessage', 'window/logMessage', 'workspace/applyEdit' }) do
  local original = vim.lsp.handlers[method]
  vim.lsp.handlers[method] = function(err, result, ctx, config)
    local text = method == 'workspace/applyEdit' and 'edit' or (result or {}).message
    log('%s: %s', method, tostring(text))
    return original(err, result, ctx, config)
  end
end

if mode == 'command' then
  -- The client asks for these when the config has no capabilities (the snippet sets none).
  local make_capabilities = vim.lsp.protocol.make_client_capabilities
  vim.lsp.protocol.make_client_capabilities = function(...)
    local capabilities = make_capabilities(...)
    capabilities.textDocument.codeAction.resolveSupport = nil
    return capabilities
  end
end

local function wait(what, predicate)
  if not vim.wait(timeout, predicate, 50) then error('timed out waiting for ' .. what, 0) end
end

local function ours(buf)
  local get = vim.lsp.get_clients or vim.lsp.get_active_clients
  for _, client in pairs(get()) do
    if client.name == 'code-evolver' and client.initialized
        and vim.lsp.buf_is_attached(buf, client.id) then
      return client
    end
  end
end

-- The action inside one vim.ui.select item: {client_id, action} before 0.10, {action=...} after.
local function action_of(item)
  return item.action or item[2] or {}
end

local function main()
  vim.cmd('edit ' .. vim.fn.fnameescape(file))
  local buf = vim.api.nvim_get_current_buf()
  local v = vim.version()
  log('nvim %d.%d.%d, filetype %s', v.major, v.minor, v.patch, vim.bo[buf].filetype)
  wait('the code-evolver client to attach', function() return ours(buf) ~= nil end)
  local client = ours(buf)
  log('attached client %d, offset encoding %s', client.id, tostring(client.offset_encoding))
  -- Log each request Neovim sends from now on (client.requests holds the pending ones).
  local seen = {}
  local function note_requests()
    for id, request in pairs(client.requests or {}) do
      if not seen[id] then
        seen[id] = true
        log('request: %s', request.method)
      end
    end
  end
  vim.api.nvim_create_autocmd('User', { pattern = 'LspRequest', callback = note_requests })
  pcall(vim.api.nvim_create_autocmd, 'LspRequest', { callback = note_requests }) -- 0.10+
  local function idle()
    for _, request in pairs(client.requests or {}) do
      if request.type == 'pending' then return false end
    end
    return true
  end

  -- Save: with run_on_save the server runs the file and publishes the failure as a diagnostic.
  vim.cmd('write')
  wait('a diagnostic from the server', function() return #vim.diagnostic.get(buf) > 0 end)
  local first = vim.diagnostic.get(buf)[1]
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    log('diagnostic: line %d: %s', d.lnum, d.message)
  end

  -- Now what a user does: cursor on that line, <leader>ca, pick "Fix with ..." from the menu.
  local chosen
  vim.ui.select = function(items, _, on_choice)
    for _, item in ipairs(items) do
      local action = action_of(item)
      local has = (action.edit and ' +edit' or '') .. (action.command and ' +command' or '')
      log('offered: %s%s', tostring(action.title), has)
    end
    for index, item in ipairs(items) do
      local action = action_of(item)
      if tostring(action.title):find('^Fix with ') then
        log('shape: %s', action.edit and 'edit' or action.command and 'command' or 'resolve')
        chosen = true
        return on_choice(item, index)
      end
    end
    chosen = false
    on_choice(nil, nil)
  end
  local tick = vim.api.nvim_buf_get_changedtick(buf)
  vim.api.nvim_win_set_cursor(0, { first.lnum + 1, 0 })
  vim.cmd('normal \\ca') -- the snippet's mapping (<leader> is a backslash by default)
  wait('the code action menu', function() return chosen ~= nil end)
  if not chosen then error('the menu had no "Fix with" action', 0) end
  wait('the fix to change the buffer', function()
    return vim.api.nvim_buf_get_changedtick(buf) ~= tick
  end)
  -- Let the server finish (after an applyEdit it still owes the executeCommand reply).
  wait('the server to answer every request', idle)
  vim.fn.writefile(vim.api.nvim_buf_get_lines(buf, 0, -1, true), out)
  log('wrote %s', out)
end

vim.api.nvim_create_autocmd('VimEnter', {
  once = true,
  callback = function()
    vim.schedule(function()
      local ok, err = xpcall(main, debug.traceback)
      finish(ok, err)
    end)
  end,
})
-- A last resort in case something blocks outside the waits above.
vim.defer_fn(function() finish(false, 'watchdog: the whole run took too long') end, 2 * timeout)
