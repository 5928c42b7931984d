;;; driver.el --- what a user does in Emacs, for tests/test_emacs.py  -*- lexical-binding: t -*-

;; Loaded from the test's init.el right after the README's Eglot block.  Emacs was started
;; on a terminal with $CE_FILE to visit, so Eglot connects as it does for a person.  Then:
;; CE_MODE=fix and nothing: save (the server runs the file and publishes its error), put
;; the cursor on the diagnostic, run `eglot-code-actions' and pick "Fix with ...";
;; CE_MODE=generate: cursor on line $CE_LINE, `eglot-code-actions', pick "Generate ...".
;; The buffer's text goes to $CE_OUT, what was seen on the way to $CE_LOG; exit 0 when all
;; went as a user would expect, 1 otherwise.  The menu and Eglot 1.9's "Server wants to
;; edit ... Proceed?" are answered as the user would, and logged.

(require 'cl-lib)
(require 'subr-x)
(require 'package)

(defvar ce-file (getenv "CE_FILE"))
(defvar ce-out (getenv "CE_OUT"))
(defvar ce-log-file (getenv "CE_LOG"))
(defvar ce-mode (or (getenv "CE_MODE") "fix"))
(defvar ce-line (string-to-number (or (getenv "CE_LINE") "0")))
(defvar ce-timeout (string-to-number (or (getenv "CE_TIMEOUT") "60")))
(defvar ce-want (if (equal ce-mode "generate") "Generate " "Fix with "))
(defvar ce-finished nil)

(defun ce-log (fmt &rest args)
  (write-region (concat (apply #'format fmt args) "\n") nil ce-log-file 'append 'silent))

(defun ce-finish (ok why)
  (unless ce-finished
    (setq ce-finished t)
    (ce-log "%s" (if ok "OK" (format "FAILED: %s" why)))
    (kill-emacs (if ok 0 1))))

(defun ce-wait (what predicate)
  (let ((deadline (+ (float-time) ce-timeout)))
    (while (not (funcall predicate))
      (when (> (float-time) deadline)
        (error "Timed out waiting for %s" what))
      (accept-process-output nil 0.05))))

(defun ce-method (method)
  (string-remove-prefix ":" (format "%s" method)))

(defun ce-eglot-version ()
  (let ((installed (assq 'eglot package-alist))
        (builtin (assq 'eglot package--builtin-versions)))
    (cond (installed (package-version-join (package-desc-version (cadr installed))))
          (builtin (package-version-join (cdr builtin)))
          (t "unknown"))))

;; Record the conversation: each request Emacs sends, what the server asks and tells.
(advice-add 'jsonrpc-connection-send :before
            (lambda (_connection &rest args)
              (when (and (plist-get args :method) (plist-get args :id)
                         (not (plist-member args :result)) (not (plist-member args :error)))
                (ce-log "request: %s" (ce-method (plist-get args :method))))))
(advice-add 'eglot-handle-request :before
            (lambda (_server method &rest _params)
              (ce-log "server asks: %s" (ce-method method))))
(advice-add 'eglot-handle-notification :before
            (lambda (_server method &rest params)
              (when (memq method '(window/showMessage window/logMessage))
                (ce-log "%s: %s" (ce-method method) (plist-get params :message)))))

;; The user's answers: the action menu, and "Proceed?" for an edit the server sends.
(defvar ce-chosen nil)
(defun ce-pick (_prompt collection &rest _)
  (let ((titles (mapcar (lambda (item) (if (consp item) (car item) item)) collection)))
    (dolist (title titles) (ce-log "offered: %s" title))
    (setq ce-chosen (cl-find-if (lambda (title) (string-prefix-p ce-want title)) titles))
    (unless ce-chosen (error "The menu had no \"%s...\" action" ce-want))
    (ce-log "picked: %s" ce-chosen)
    ce-chosen))
(advice-add 'y-or-n-p :override
            (lambda (prompt) (ce-log "asked: %s" (string-trim prompt)) t))
(setq command-error-function
      (let ((default command-error-function))
        (lambda (data context caller)
          (ce-log "command error: %s" (error-message-string data))
          (funcall default data context caller))))

;; A key for the command, pressed below, so that it runs in the command loop as from M-x.
(global-set-key (kbd "C-c a") #'eglot-code-actions)

(defun ce-main ()
  (let ((buffer (find-buffer-visiting ce-file)))
    (unless buffer (error "Emacs did not visit %s" ce-file))
    (set-buffer buffer)
    (ce-log "emacs %s, eglot %s from %s, mode %s" emacs-version (ce-eglot-version)
            (locate-library "eglot") major-mode)
    (if (equal ce-mode "generate")
        (progn (goto-char (point-min)) (forward-line ce-line))
      ;; What C-x C-s does after any change: with run_on_save the server runs the file.
      (set-buffer-modified-p t)
      (save-buffer)
      (ce-wait "a diagnostic from the server" (lambda () (flymake-diagnostics)))
      (let ((first (car (flymake-diagnostics))))
        (dolist (d (flymake-diagnostics))
          (ce-log "diagnostic: line %d: %s" (1- (line-number-at-pos (flymake-diagnostic-beg d)))
                  (flymake-diagnostic-text d)))
        (goto-char (flymake-diagnostic-beg first))))
    (let ((tick (buffer-modified-tick))
          (before (buffer-string)))
      (switch-to-buffer buffer)
      (cl-letf (((symbol-function 'completing-read) #'ce-pick))
        (execute-kbd-macro (kbd "C-c a")))
      (unless ce-chosen (error "No code action menu appeared"))
      (ce-log "the command returned")
      (if (equal ce-mode "nothing")
          (unless (equal before (buffer-string)) (error "The buffer changed"))
        (ce-wait "the edit" (lambda () (/= tick (buffer-modified-tick))))))
    (write-region (point-min) (point-max) ce-out nil 'silent)
    (ce-log "wrote %s" ce-out)))

(run-with-timer (* 2 ce-timeout) nil
                (lambda () (ce-finish nil "watchdog: the whole run took too long")))
;; Start once Eglot manages the buffer, from a timer of its own: a timer that ran while
;; Eglot waited for the server's initialize answer would be thrown out of by that answer.
(defvar ce-connect-deadline (+ (float-time) ce-timeout))
(defun ce-start ()
  (let ((buffer (find-buffer-visiting ce-file)))
    (cond ((and buffer (with-current-buffer buffer (eglot-managed-p)))
           (condition-case err
               (progn (ce-main) (ce-finish t nil))
             (error (ce-finish nil (error-message-string err)))))
          ((> (float-time) ce-connect-deadline)
           (ce-finish nil "Eglot never managed the buffer"))
          (t (run-with-timer 0.1 nil #'ce-start)))))
(add-hook 'emacs-startup-hook (lambda () (run-with-timer 0.1 nil #'ce-start)))

;;; driver.el ends here
