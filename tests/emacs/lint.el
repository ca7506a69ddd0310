;;; lint.el --- checkdoc and package-lint over files, for tests/emacs.sh  -*- lexical-binding: t; -*-

;;; Commentary:

;; emacs -Q --batch -l lint.el -f trawl-lint-batch FILE...
;; prints every checkdoc warning and package-lint issue (errors, warnings
;; and notes alike) and exits 1 when there was any.

;;; Code:

(require 'checkdoc)
(require 'package-lint)

(defconst trawl-lint-ignored-package-lint-issues
  '(("This makes the package uninstallable in all released Emacs versions."
     . "package-lint 0.16 predates Emacs 28")
    ("Package should have a Homepage or URL header."
     . "trawl has no public home yet; a made-up address would be worse"))
  "Issues package-lint reports that do not apply, each with the reason.
Debian 12's package-lint 0.16 predates Emacs 28 and says so of any
dependency on Emacs 28 or later; later releases do not.")

(defun trawl-lint-checkdoc (file)
  "Run checkdoc on FILE; return non-nil when it warned (it prints why)."
  (setq checkdoc-pending-errors nil)
  (checkdoc-file file)
  checkdoc-pending-errors)

(defun trawl-lint-package-lint (file)
  "Run package-lint on FILE; return non-nil when it found an issue."
  (let (issues)
    (with-temp-buffer
      (insert-file-contents file t)
      (emacs-lisp-mode)
      (pcase-dolist (`(,line ,col ,type ,text) (package-lint-buffer))
        (if (assoc text trawl-lint-ignored-package-lint-issues)
            (message "%s:%d:%d: %s (ignored: %s)" (file-name-nondirectory file)
                     line col text
                     (cdr (assoc text trawl-lint-ignored-package-lint-issues)))
          (push text issues)
          (message "%s:%d:%d: %s: %s" (file-name-nondirectory file)
                   line col type text))))
    issues))

(defun trawl-lint-batch ()
  "Lint the files left on the command line and exit: 0 clean, 1 not."
  (let ((failed nil))
    (package-initialize)
    (dolist (file command-line-args-left)
      (when (trawl-lint-checkdoc file)
        (message "%s: checkdoc warned" file)
        (setq failed t))
      (when (trawl-lint-package-lint file)
        (message "%s: package-lint found issues" file)
        (setq failed t)))
    (kill-emacs (if failed 1 0))))

(provide 'lint)
;;; lint.el ends here
