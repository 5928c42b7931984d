-- Code Evolver for Neovim 0.7+: starts `code-evolver lsp` for Python buffers.
-- Put this in your init.lua, or save it as ~/.config/nvim/plugin/code_evolver.lua.
-- Config file: vim.g.code_evolver_config, else $CODE_EVOLVER_CONFIG, else the server's default.
local server = {
  name = 'code-evolver',
  cmd = { 'code-evolver', 'lsp' },
  init_options = {
    configPath = vim.g.code_evolver_config or os.getenv('CODE_EVOLVER_CONFIG'),
    workspaceTrusted = true, -- lets the server run your code to check its fixes
    -- Saving a file that fails shows its error as a diagnostic, which "Fix with ..." needs
    -- (with no Python linter in Neovim, nothing else reports one).
    overrides = { run_on_save = true },
  },
  on_attach = function(_, buf)
    vim.keymap.set({ 'n', 'x' }, '<leader>ca', vim.lsp.buf.code_action,
      { buffer = buf, desc = 'Code actions (Fix with codellama, Generate ...)' })
  end,
}

-- The project root: the nearest folder upwards with one of these, else the file's folder.
local function root_of(buf)
  local start = vim.fn.fnamemodify(vim.api.nvim_buf_get_name(buf), ':p:h')
  local dir = start
  while true do
    for _, marker in ipairs({ 'pyproject.toml', 'setup.py', 'setup.cfg', '.git' }) do
      if vim.loop.fs_stat(dir .. '/' .. marker) then return dir end
    end
    local parent = vim.fn.fnamemodify(dir, ':h')
    if parent == dir then return start end
    dir = parent
  end
end

local clients = {} -- root -> client id, for Neovim 0.7 (0.8+ reuses clients itself)
vim.api.nvim_create_autocmd('FileType', {
  group = vim.api.nvim_create_augroup('code_evolver', { clear = true }),
  pattern = 'python',
  callback = function(args)
    if vim.bo[args.buf].buftype ~= '' then return end
    local root = root_of(args.buf)
    local config = vim.tbl_extend('force', server, { root_dir = root })
    if vim.lsp.start then -- Neovim 0.8+
      vim.lsp.start(config, { bufnr = args.buf })
      return
    end
    local id = clients[root]
    if not (id and vim.lsp.get_client_by_id(id)) then
      id = vim.lsp.start_client(config)
      clients[root] = id
    end
    if id then vim.lsp.buf_attach_client(args.buf, id) end
  end,
})
