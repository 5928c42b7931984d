" Code Evolver for Vim 9 with ALE 3.3 (Debian 12: apt install vim-nox vim-ale).
" Put this in your ~/.vimrc. Fixes: :ALECodeAction on the line of an error.
packadd! ale  " Debian's vim-ale is an optional package; leave this out if ALE is installed otherwise
filetype plugin on
let g:ale_linters = {'python': ['code_evolver']}  " list your other Python linters here too
let g:ale_lsp_show_message_severity = 'information'  " shows "Fixed on attempt 1/3 ..."
call ale#linter#Define('python', {
\   'name': 'code_evolver',
\   'lsp': 'stdio',
\   'executable': 'code-evolver',
\   'command': '%e lsp',
\   'project_root': {buffer -> ale#python#FindProjectRoot(buffer) ?? expand('#' . buffer . ':p:h')},
\   'initialization_options': {
\       'configPath': empty($CODE_EVOLVER_CONFIG) ? v:null : $CODE_EVOLVER_CONFIG,
\       'workspaceTrusted': v:true,
\       'overrides': {'run_on_save': v:true},
\   },
\})
