" Test driver for tests/test_vim_ale.py, sourced after editors/vim/code_evolver.vim.
" Vim runs on a terminal with $CE_FILE; ALE starts `code-evolver lsp`. What a user does:
" save (the server runs the file and publishes its error), cursor on that line, column 1,
" :ALECodeAction, pick "Fix with ..." from ALE's numbered menu; then wait for the buffer to
" change and for the server to answer the command. The buffer goes to $CE_OUT, what was seen
" to $CE_LOG; exit 0 on success, 1 (cquit) on a failure or a wait that took too long.
" Vim has no blocking wait that keeps its channels going, so the steps are states of a timer.

let s:log = $CE_LOG
let s:timeout = str2nr(empty($CE_TIMEOUT) ? '60' : $CE_TIMEOUT) * 1000
let s:state = 'connect'
let s:since = reltime()
let s:conn = v:null
let s:tick = 0
let s:answer = v:null
let s:offered = v:null

function! s:Log(text) abort
  call writefile([a:text], s:log, 'a')
endfunction

function! s:Finish(ok, why) abort
  call s:Log(a:ok ? 'OK' : 'FAILED: ' . a:why)
  if a:ok
    qall!
  endif
  cquit 1
endfunction

function! s:Next(state) abort
  let s:state = a:state
  let s:since = reltime()
endfunction

" Every message the server sends on ALE's connection.
function! s:OnMessage(conn_id, message) abort
  if has_key(a:message, 'method')
    let l:params = get(a:message, 'params', {})
    let l:text = type(l:params) == v:t_dict ? get(l:params, 'message', '') : ''
    call s:Log('server: ' . a:message.method . (empty(l:text) ? '' : ': ' . l:text))
  elseif type(get(a:message, 'result')) == v:t_list
    let s:offered = map(copy(a:message.result), {_, a -> get(a, 'title', '')})
    for l:title in s:offered
      call s:Log('offered: ' . l:title)
    endfor
  elseif type(get(a:message, 'result')) == v:t_dict && has_key(a:message.result, 'applied')
    let s:answer = a:message.result
    call s:Log('command answered: applied ' . string(a:message.result.applied)
    \ . ': ' . get(a:message.result, 'message', ''))
  endif
endfunction

" ALE's menu is input() with "1) title" lines; the user types the number of "Fix with ...".
runtime autoload/ale/util.vim
function! ale#util#Input(message, value, ...) abort
  let l:titles = map(filter(split(a:message, "\n"), {_, l -> l =~# '^\d\+) '}),
  \ {_, l -> substitute(l, '^\d\+) ', '', '')})
  let l:index = match(l:titles, '^Fix with ')
  call s:Log('menu: ' . join(l:titles, ' | '))
  call s:Log(l:index < 0 ? 'no Fix action in the menu' : 'picked: ' . l:titles[l:index])
  return l:index < 0 ? '' : string(l:index + 1)
endfunction

function! s:Ours() abort
  for l:conn in values(ale#lsp#GetConnections())
    if get(l:conn, 'initialized') && l:conn.id =~# 'code-evolver'
      return l:conn
    endif
  endfor
  return v:null
endfunction

function! s:Diagnostics() abort
  let l:info = get(g:ale_buffer_info, bufnr(''), {})
  return filter(copy(get(l:info, 'loclist', [])), {_, e -> e.linter_name is# 'code_evolver'})
endfunction

function! s:Step(timer) abort
  try
    if s:state is# 'connect'
      let s:conn = s:Ours()
      if s:conn isnot v:null
        call ale#lsp#RegisterCallback(s:conn.id, function('s:OnMessage'))
        call s:Log(printf('vim %d.%d, ALE connected to %s', v:version / 100, v:version % 100,
        \ s:conn.id))
        write
        call s:Next('diagnostic')
      endif
    elseif s:state is# 'diagnostic'
      let l:found = s:Diagnostics()
      if !empty(l:found)
        for l:d in l:found
          call s:Log(printf('diagnostic: line %d: %s (code %s)', l:d.lnum - 1, l:d.text,
          \ has_key(l:d, 'code') ? l:d.code : 'none'))
        endfor
        call cursor(l:found[0].lnum, 1)
        let s:tick = b:changedtick
        ALECodeAction
        call s:Next('menu')
      endif
    elseif s:state is# 'menu'
      if s:offered isnot v:null && match(s:offered, '^Fix with ') < 0
        return s:Finish(0, 'the server offered no "Fix with ..." action')
      endif
      if b:changedtick != s:tick
        call s:Log('the buffer changed')
        call s:Next('answer')
      endif
    elseif s:state is# 'answer'
      if s:answer isnot v:null
        call writefile(getline(1, '$'), $CE_OUT)
        call s:Log('wrote ' . $CE_OUT)
        return s:Finish(1, '')
      endif
    endif
    if reltimefloat(reltime(s:since)) * 1000 > s:timeout
      call s:Finish(0, 'timed out in state ' . s:state)
    endif
  catch
    call s:Finish(0, v:exception . ' at ' . v:throwpoint)
  endtry
endfunction

augroup code_evolver_test
  autocmd!
  autocmd VimEnter * call timer_start(50, function('s:Step'), {'repeat': -1})
augroup END
