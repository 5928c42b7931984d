-- Test driver for tests/test_neovim.py, loaded after editors/neovim/code_evolver.lua.
-- Opens $CE_FILE, waits for the code-evolver client, lists the code actions for a diagnostic on
-- line $CE_LINE (0-based), runs "Fix with ..." through Neovim's own vim.lsp.buf.code_action (with
-- vim.ui.select answering for the user), waits for the buffer to change, writes its lines to
-- $CE_OUT and quits: exit 0 on success, 1 (cquit) on any failure or timeout. Notes go to $CE_LOG.
-- $CE_MODE=command removes codeAction resolveSupport from the client's capabilities, as an
-- editor without resolve would, so the server attaches its command instead.
local file, out, log_path = os.getenv('CE_FILE'), os.getenv('CE_OUT'), os.getenv('CE_LOG')
local line = tonumber(os.getenv('CE_LINE') or '0')
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
  -- vim.lsp.start (0.8+) also goes through vim.lsp.start_client.
  local start_client = vim.lsp.start_client
  vim.lsp.start_client = function(config)
    config.capabilities = config.capabilities or vim.lsp.protocol.make_client_capabilities()
    config.capabilities.textDocument.codeAction.resolveSupport = nil
    return start_client(config)
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
  log('%s, filetype %s', vim.fn.matchstr(vim.fn.execute('version'), 'NVIM v\\S*'), vim.bo[buf].filetype)
  wait('the code-evolver client to attach', function() return ours(buf) ~= nil end)
  local client = ours(buf)
  log('attached client %d, offset encoding %s', client.id, tostring(client.offset_encoding))

  local text = vim.api.nvim_buf_get_lines(buf, line, line + 1, true)[1]
  local diagnostic = {
    range = { start = { line = line, character = 0 }, ['end'] = { line = line, character = #text } },
    message = "TypeError: object of type 'int' has no len()",
    severity = 1,
    source = 'python',
  }
  local context = { diagnostics = { diagnostic } }

  -- What the lightbulb offers (no model work happens here).
  local params = vim.lsp.util.make_range_params(0, client.offset_encoding)
  params.range = { start = { line = line, character = 0 }, ['end'] = { line = line, character = 0 } }
  params.context = context
  local replies = vim.lsp.buf_request_sync(buf, 'textDocument/codeAction', params, timeout)
  local reply = (replies or {})[client.id] or {}
  if reply.err or reply.error then error('codeAction failed: ' .. vim.inspect(reply), 0) end
  local fix
  for _, action in ipairs(reply.result or {}) do
    local has = (action.edit and ' +edit' or '') .. (action.command and ' +command' or '')
    log('offered: %s%s', action.title, has)
    if not fix and action.title:find('^Fix with ') then fix = action end
  end
  if not fix then error('no "Fix with" action was offered', 0) end
  log('shape: %s', fix.edit and 'edit' or fix.command and 'command' or 'resolve')

  -- Now the way a user runs it: <leader>ca, then pick "Fix with ..." from the menu.
  local chosen
  vim.ui.select = function(items, _, on_choice)
    for index, item in ipairs(items) do
      if action_of(item).title == fix.title then
        chosen = true
        return on_choice(item, index)
      end
    end
    on_choice(nil, nil)
  end
  local tick = vim.api.nvim_buf_get_changedtick(buf)
  vim.api.nvim_win_set_cursor(0, { line + 1, 0 })
  if vim.fn.has('nvim-0.8') == 1 then
    vim.lsp.buf.code_action({ context = context })
  else
    vim.lsp.buf.code_action(context)
  end
  wait('the code action menu', function() return chosen ~= nil end)
  wait('the fix to change the buffer', function()
    return vim.api.nvim_buf_get_changedtick(buf) ~= tick
  end)
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
