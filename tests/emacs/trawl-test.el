;;; trawl-test.el --- ERT tests of trawl.el against a real trawld  -*- lexical-binding: t; -*-

;;; Commentary:

;; tests/emacs.sh starts trawld on a temporary tree and runs these with:
;;   TRAWL_TEST_SOCKET  the daemon's socket
;;   TRAWL_TEST_TREE    the indexed tree (see emacs.sh for its files)
;;   TRAWL_TEST_TRAWLD  the trawld program, for tests that start their own
;;   TRAWL_TEST_TMP     a scratch directory

;;; Code:

(require 'ert)
(require 'trawl)
(require 'project)

(defvar vertico-mode)
(declare-function vertico-mode "vertico" (&optional arg))
(declare-function consult--read "consult" (candidates &rest options))

(defconst trawl-test-socket (getenv "TRAWL_TEST_SOCKET"))
(defconst trawl-test-tree (file-name-as-directory (getenv "TRAWL_TEST_TREE")))
(defconst trawl-test-trawld (getenv "TRAWL_TEST_TRAWLD"))
(defconst trawl-test-tmp (file-name-as-directory (getenv "TRAWL_TEST_TMP")))

(defconst trawl-test-latin1
  (concat trawl-test-tree (decode-coding-string "caf\351-latin1.txt" 'utf-8-unix))
  "The file whose name holds the byte 0xE9 alone, not UTF-8.")

(defconst trawl-test-unicode (concat trawl-test-tree "café-ünïcödé.txt")
  "A file whose name is UTF-8 with two-byte characters.")

(defun trawl-test-file (name)
  "Return NAME, relative to the tree, as an absolute file name."
  (concat trawl-test-tree name))

(defmacro trawl-test-with-daemon (&rest body)
  "Run BODY connected to the test daemon, never starting one."
  (declare (indent 0))
  `(let ((trawl-socket trawl-test-socket)
         (trawl-program nil)
         (trawl-timeout 5)
         (file-name-coding-system 'utf-8-unix))
     ,@body))

(defun trawl-test-visit (command keys)
  "Run COMMAND, typing KEYS into its minibuffer; return the buffer visited.
The buffer is killed afterwards; its name, file name and text are
returned as a list."
  (let ((map (make-sparse-keymap))
        (before (buffer-list)))
    (define-key map [f9] command)
    (save-window-excursion
      (let ((overriding-local-map nil))
        (use-global-map (make-composed-keymap map global-map))
        (unwind-protect
            (execute-kbd-macro (vconcat [f9] keys))
          (use-global-map global-map)))
      (let ((buffer (car (seq-difference (buffer-list) before))))
        (prog1 (and buffer
                    (with-current-buffer buffer
                      (list (buffer-name) buffer-file-name (buffer-string))))
          (when buffer (kill-buffer buffer)))))))

(defun trawl-test-highlighted (string)
  "Return the characters of STRING that have the face `completions-common-part'."
  (let (chars)
    (dotimes (i (length string))
      (let ((face (get-text-property i 'face string)))
        (when (or (eq face 'completions-common-part)
                  (and (listp face) (memq 'completions-common-part face)))
          (push (aref string i) chars))))
    (concat (nreverse chars))))

;;;; Without the daemon

(ert-deftest trawl-test-should-map-byte-offsets-to-characters ()
  (let ((file-name-coding-system 'utf-8-unix))
    (should (equal (trawl--char-offsets "/a/bc" '(1 3 4)) '(1 3 4)))
    ;; é is two bytes, 日 three, 😀 four: offsets of any of their bytes
    ;; name the character.
    (should (equal (trawl--char-offsets "/é/x" '(1 2 4)) '(1 3)))
    (should (equal (trawl--char-offsets "/日x" '(1 4)) '(1 2)))
    (should (equal (trawl--char-offsets "😀ab" '(4 5)) '(1 2)))
    ;; A raw byte (not UTF-8) is one byte and one character.
    (should (equal (trawl--char-offsets
                    (decode-coding-string "caf\351x" 'utf-8-unix) '(3 4))
                   '(3 4)))))

(ert-deftest trawl-test-should-resolve-the-socket-as-the-protocol-says ()
  (let ((trawl-socket nil)
        (process-environment (copy-sequence process-environment)))
    (setenv "TRAWL_SOCKET" "/x/sock")
    (setenv "XDG_RUNTIME_DIR" "/run/user/7")
    (should (equal (trawl--socket) "/x/sock"))
    (setenv "TRAWL_SOCKET" nil)
    (should (equal (trawl--socket) "/run/user/7/trawl/socket"))
    (setenv "XDG_RUNTIME_DIR" nil)
    (should (equal (trawl--socket) (format "/tmp/trawl-%d/socket" (user-uid))))
    (let ((trawl-socket "/y/sock"))
      (should (equal (trawl--socket) "/y/sock")))))

(ert-deftest trawl-test-should-send-names-that-are-not-utf-8-as-bytes ()
  (let ((file-name-coding-system 'utf-8-unix))
    (should (equal (trawl--path-fields "/tmp/café" :path :path_bytes)
                   '(:path "/tmp/café")))
    (should (equal (trawl--path-fields trawl-test-latin1 :path :path_bytes)
                   (list :path_bytes
                         (base64-encode-string
                          (encode-coding-string trawl-test-latin1 'utf-8-unix)
                          t))))))

;; The filter is given chunks cut anywhere; it must see whole lines only.
(ert-deftest trawl-test-should-join-lines-split-across-reads ()
  (let ((proc (make-pipe-process :name "trawl-test-pipe" :noquery t))
        (trawl--handlers (make-hash-table))
        (dropped trawl--dropped-lines)
        got)
    (unwind-protect
        (progn
          (puthash 41 (lambda (msg) (push msg got) (plist-get msg :done))
                   trawl--handlers)
          (dolist (chunk '("{\"id\":41,\"pa" "th\":\"/a/é\",\"type\":\"f\"}\n{\"id\""
                           ":41,\"done\":true}\n{\"id\":41,\"path\":\"/late\"}\n" "{\"id\":"))
            (trawl--filter proc chunk))
          (should (equal (nreverse got)
                         '((:id 41 :path "/a/é" :type "f") (:id 41 :done t))))
          ;; The line after the done line has no handler left: dropped.
          (should (= trawl--dropped-lines (1+ dropped)))
          (should (equal (process-get proc 'trawl-partial) "{\"id\":")))
      (delete-process proc))))

;;;; The completion table

(ert-deftest trawl-test-should-offer-the-daemons-results-as-files ()
  (trawl-test-with-daemon
    (let* ((table (trawl--completion-table))
           (all (all-completions "gamma" table)))
      (should (eq (completion-metadata-get
                   (completion-metadata "" table nil) 'category)
                  'file))
      (should (member (trawl-test-file "alpha/beta/gamma.txt") all))
      (should (cl-every #'file-name-absolute-p all))
      (should (test-completion (trawl-test-file "alpha/beta/gamma.txt") table)))))

(ert-deftest trawl-test-should-keep-the-daemons-order ()
  (trawl-test-with-daemon
    (let* ((table (trawl--completion-table))
           (daemon-order (trawl--candidates "main"))
           shown)
      (should (> (length daemon-order) 2))
      ;; The completion machinery, styles as our minibuffer sets them, and
      ;; the metadata's sort functions must not reorder.
      (with-temp-buffer
	(trawl--minibuffer-setup)
	(let ((completion-category-overrides
               (append completion-category-overrides
                       '((file (styles basic partial-completion))))))
          (setq shown (completion-all-completions "main" table nil 4))))
      (setcdr (last shown) nil)
      (should (equal shown daemon-order))
      (let ((sort (completion-metadata-get (completion-metadata "" table nil)
                                           'display-sort-function)))
	(should (equal (funcall sort (copy-sequence daemon-order))
                       daemon-order))))))

(ert-deftest trawl-test-should-mark-directories-with-a-slash ()
  (trawl-test-with-daemon
    (should (member (trawl-test-file "alpha/beta/")
                    (trawl--candidates "alpha/beta")))))

(ert-deftest trawl-test-should-highlight-the-matched-unicode-characters ()
  (trawl-test-with-daemon
    (let ((candidate (car (member trawl-test-unicode
                                  (trawl--candidates "ünïcöd")))))
      (should candidate)
      (should (equal (trawl-test-highlighted candidate) "ünïcöd"))
      ;; ... and exactly on the basename's run, not elsewhere.
      (let ((start (string-search "ünïcöd" candidate)))
	(dotimes (i 6)
          (should (memq 'completions-common-part
			(ensure-list (get-text-property (+ start i) 'face
							candidate)))))))))

(ert-deftest trawl-test-should-decode-names-that-are-not-utf-8 ()
  (trawl-test-with-daemon
    (let ((found (member trawl-test-latin1 (trawl--candidates "latin1"))))
      (should found)
      (should (equal (encode-coding-string (car found) 'utf-8-unix)
                     (encode-coding-string trawl-test-latin1 'utf-8-unix)))
      (should (file-exists-p (car found))))))

(ert-deftest trawl-test-should-scope-to-a-directory ()
  (trawl-test-with-daemon
    (let ((root (trawl-test-file "proj/")))
      (dolist (query '("" "main" "c"))
	(let ((all (trawl--candidates query root)))
          (should all)
          (dolist (c all)
            (should (string-prefix-p root c))
            (should-not (equal c root)))))
      (should-not (member (trawl-test-file "other/main.c")
                          (trawl--candidates "main" root))))))

(ert-deftest trawl-test-should-scope-to-a-directory-that-is-not-utf-8 ()
  (trawl-test-with-daemon
    (let* ((root (concat trawl-test-tree
                         (decode-coding-string "raw\377dir/" 'utf-8-unix)))
           (all (trawl--candidates "" root)))
      (should (equal all (list (concat root "inside.txt")))))))

(ert-deftest trawl-test-should-report-a-bad-query-without-signaling-in-the-table ()
  (trawl-test-with-daemon
    (should-error (trawl--candidates "gamma !") :type 'user-error)
    (let ((table (trawl--completion-table)))
      (should (null (all-completions "gamma !" table))))))

;;;; Requests in flight

(ert-deftest trawl-test-should-drop-the-reply-to-a-superseded-query ()
  (trawl-test-with-daemon
    (let* ((proc (trawl--connection))
           (dropped trawl--dropped-lines)
           ;; Both sent before any answer is read: the first one's lines
           ;; arrive while the second is the current query.
           (old (trawl--query-send proc ""))
           (new (trawl--query-send proc "gamma")))
      (should (trawl--wait proc (lambda () (trawl--query-done new))))
      (should-not (trawl--query-error new))
      (should (equal (trawl--query-results new)
                     (list (trawl-test-file "alpha/beta/gamma.txt"))))
      (should (null (trawl--query-results old)))
      (should (equal (trawl--query-error old) "Abandoned"))
      ;; The old query's results (or its cancelled done line) came and went.
      (should (> trawl--dropped-lines dropped)))))

(ert-deftest trawl-test-should-tell-the-daemon-what-was-picked ()
  (trawl-test-with-daemon
    (let ((proc (trawl--connection)))
      (dolist (file (list (trawl-test-file "alpha/notes.md") trawl-test-latin1))
	(should (plist-get (trawl--request
                            proc `(:op "pick" ,@(trawl--path-fields
                                                 file :path :path_bytes)))
                           :ok))))))

(ert-deftest trawl-test-should-show-the-daemons-status ()
  (trawl-test-with-daemon
    (should (string-match-p "\\`trawld .*(pid [0-9]+, .*): [0-9]+ entries, ready, walk idle\\'"
                            (trawl-status)))))

;;;; When the daemon cannot answer

(ert-deftest trawl-test-should-fail-fast-when-no-daemon-listens ()
  (let ((trawl-socket (concat trawl-test-tmp "nobody/socket"))
        (start (float-time)))
    (dolist (program '(nil "trawl-test-no-such-program"))
      (let ((trawl-program program))
        (should-error (call-interactively #'trawl-find-file) :type 'user-error)))
    (should (< (- (float-time) start) 1))))

(ert-deftest trawl-test-should-time-out-on-a-daemon-that-never-answers ()
  (let* ((socket (concat trawl-test-tmp "mute.sock"))
         (server (make-network-process :name "trawl-test-mute" :server t
                                       :family 'local :service socket
                                       :noquery t))
         (trawl-socket socket)
         (trawl-program nil)
         (trawl-timeout 0.5)
         (start (float-time)))
    (unwind-protect
        (let ((err (should-error (call-interactively #'trawl-find-file)
                                 :type 'user-error)))
          (should (string-match-p "No answer from trawld" (cadr err)))
          (should (< (- (float-time) start) 2)))
      (trawl--disconnect)
      (delete-process server))))

(defun trawl-test-start-daemon (name)
  "Start a trawld of our own on the tree under socket NAME; return the process."
  (let* ((socket (concat trawl-test-tmp name))
         (proc (make-process
                :name name :noquery t :buffer nil :stderr (get-buffer-create (format " *%s stderr*" name))
                :command (list trawl-test-trawld "--socket" socket
                               "--root" (directory-file-name trawl-test-tree)
                               "--state-dir" (concat trawl-test-tmp name ".state")))))
    (process-put proc 'socket socket)
    proc))

;; Each answer of a daemon of our own comes from a fresh process: its first
;; query is the first it ever ran.
(defmacro trawl-test-with-own-daemon (name &rest body)
  "Run BODY connected to a new trawld on the tree, with socket NAME.
The daemon process is bound to `daemon' in BODY."
  (declare (indent 1))
  `(let* ((daemon (trawl-test-start-daemon ,name))
          (trawl-socket (process-get daemon 'socket))
          (trawl-program nil)
          (trawl-timeout 5)
          (file-name-coding-system 'utf-8-unix)
          (deadline (+ (float-time) 10)))
     (unwind-protect
         (progn
           (while (and (not (ignore-errors (trawl--connection)))
                       (< (float-time) deadline))
             (sleep-for 0.05))
           (should (process-live-p trawl--process))
           ,@body)
       (trawl--disconnect)
       (when (process-live-p daemon) (kill-process daemon))
       (let ((stderr (get-buffer (format " *%s stderr*" ,name))))
         (when (and stderr (string-match-p "Sanitizer\\|runtime error"
                                           (with-current-buffer stderr
                                             (buffer-string))))
           (message "%s's stderr:\n%s" ,name
                    (with-current-buffer stderr (buffer-string)))
           (ert-fail (list "trawld reported errors" ,name)))))))

(ert-deftest trawl-test-should-list-every-match-of-a-negation-only-query ()
  ;; The first keys typed into a fresh daemon: a query of no positive term.
  (trawl-test-with-own-daemon "negation.sock"
    (let ((all (trawl--candidates "!gamma" (trawl-test-file "alpha/"))))
      (should (member (trawl-test-file "alpha/notes.md") all))
      (should-not (member (trawl-test-file "alpha/beta/gamma.txt") all))
      (should (equal (mapcar #'trawl-test-highlighted all)
		     (make-list (length all) ""))))))

(ert-deftest trawl-test-should-fail-cleanly-when-the-daemon-dies ()
  (trawl-test-with-own-daemon "dying.sock"
    (kill-process daemon)
    (while (process-live-p daemon) (accept-process-output daemon 0.05))
    (let ((start (float-time)))
      (should-error (trawl--candidates "gamma") :type 'user-error)
      ;; In the completion table: a message and no candidates, no signal.
      (should (null (all-completions "gamma" (trawl--completion-table))))
      (should (< (- (float-time) start) 1)))))

(defmacro trawl-test-with-state-home (&rest body)
  "Run BODY with $XDG_STATE_HOME, where started daemons log, in the scratch."
  (declare (indent 0))
  `(let ((process-environment
          (cons (concat "XDG_STATE_HOME=" trawl-test-tmp "state-home")
                process-environment)))
     ,@body))

(ert-deftest trawl-test-should-report-a-daemon-that-exits-at-once ()
  (trawl-test-with-state-home
    (let* ((trawl-socket (concat trawl-test-tmp "exits/socket"))
           (trawl-program trawl-test-trawld)
           (trawl-program-args '("--no-such-option"))
           (trawl-start-timeout 10)
           (start (float-time))
           (err (should-error (trawl--connection) :type 'user-error)))
      (should (string-match-p "exited: .*no-such-option" (cadr err)))
      (should (string-match-p (regexp-quote (concat trawl-test-tmp "state-home/trawl/trawld.log"))
                              (cadr err)))
      (should (< (- (float-time) start) 3)))))

(ert-deftest trawl-test-should-start-the-daemon-when-none-answers ()
  (trawl-test-with-state-home
    (let* ((socket (concat trawl-test-tmp "started/socket"))
           (trawl-socket socket)
           (trawl-program trawl-test-trawld)
           (trawl-program-args
            (list "--root" (directory-file-name trawl-test-tree)
                  "--state-dir" (concat trawl-test-tmp "started.state")))
           (trawl-start-timeout 10)
           (trawl-timeout 5))
      (unwind-protect
          (let* ((proc (trawl--connection))
		 (status (trawl--request proc '(:op "status"))))
            ;; The runner kills it by this pid should the test die first.
            (with-temp-file (concat trawl-test-tmp "started.pid")
              (insert (format "%d\n" (plist-get status :pid))))
            (should (equal (process-get proc 'trawl-socket) socket))
            (let ((deadline (+ (float-time) 10)))
              (while (and (not (plist-get (trawl--request proc '(:op "status"))
                                          :ready))
                          (< (float-time) deadline))
		(sleep-for 0.05)))
            (should (member (trawl-test-file "alpha/beta/gamma.txt")
                            (trawl--candidates "gamma"))))
	(let ((pid-file (concat trawl-test-tmp "started.pid")))
          (when (process-live-p trawl--process)
            (ignore-errors (trawl--request trawl--process '(:op "shutdown"))))
          (trawl--disconnect)
          ;; Once it is gone, the runner must not kill a pid that may be reused.
          (when (file-exists-p pid-file)
            (let ((pid (with-temp-buffer
                         (insert-file-contents pid-file)
                         (string-to-number (buffer-string))))
                  (deadline (+ (float-time) 10)))
              (while (and (trawl--alive-p pid) (< (float-time) deadline))
		(sleep-for 0.05))
              (unless (trawl--alive-p pid)
		(delete-file pid-file)))))))))

;;;; The commands, driven by keys

(ert-deftest trawl-test-should-open-the-file-chosen-with-the-default-ui ()
  (trawl-test-with-daemon
    (should (equal (cdr (trawl-test-visit #'trawl-find-file "'gamma\r"))
                   (list (trawl-test-file "alpha/beta/gamma.txt") "gamma\n")))))

(defun trawl-test-icomplete-in-macros (icomplete-simple-completing-p)
  "Call ICOMPLETE-SIMPLE-COMPLETING-P as if no keyboard macro ran."
  (let ((executing-kbd-macro nil))
    (funcall icomplete-simple-completing-p)))

(defmacro trawl-test-with-icomplete (mode &rest body)
  "Run BODY with icomplete's MODE (`icomplete-mode', `fido-mode') on.
Icomplete stays out of keyboard macros; here it must not, since
the tests type through them."
  (declare (indent 1))
  `(progn
     (require 'icomplete)
     (advice-add 'icomplete-simple-completing-p :around
                 #'trawl-test-icomplete-in-macros)
     (,mode 1)
     (unwind-protect (progn ,@body)
       (,mode -1)
       (advice-remove 'icomplete-simple-completing-p
                      #'trawl-test-icomplete-in-macros))))

(ert-deftest trawl-test-should-open-the-first-candidate-with-fido ()
  (trawl-test-with-daemon
    (let* ((root (trawl-test-file "proj/"))
           (project-find-functions (list (lambda (_) (cons 'transient root))))
           (ranked (trawl--candidates ".c" root)))
      (should (> (length ranked) 1))
      (trawl-test-with-icomplete fido-mode
	(should (equal (nth 1 (trawl-test-visit #'trawl-project-find-file
						".c\r"))
		       (car ranked)))))))

(ert-deftest trawl-test-should-list-matches-in-the-daemons-order-on-tab ()
  (trawl-test-with-daemon
    (let ((map (make-sparse-keymap))
          listed)
      ;; <f7> reads *Completions* as TAB left it, then leaves the minibuffer.
      (define-key map [f7] (lambda ()
                             (interactive)
                             (setq listed (with-current-buffer "*Completions*"
                                            (buffer-string)))
                             (abort-recursive-edit)))
      (set-keymap-parent map minibuffer-local-must-match-map)
      (let ((minibuffer-local-must-match-map map))
	(condition-case nil
            (trawl-test-visit #'trawl-find-file (vconcat "main\t" [f7]))
          (quit nil)))
      (should listed)
      (let ((daemon-order (trawl--candidates "main"))
            (positions nil))
	(dolist (c daemon-order)
          (push (string-search c listed) positions))
	(should (cl-every #'identity positions))
	(should (equal (reverse positions) (sort (reverse positions) #'<)))))))

(ert-deftest trawl-test-should-open-the-first-candidate-with-icomplete ()
  (trawl-test-with-daemon
    (let* ((root (trawl-test-file "proj/"))
           (project-find-functions (list (lambda (_) (cons 'transient root))))
           (ranked (trawl--candidates ".c" root)))
      (should (> (length ranked) 1))
      (trawl-test-with-icomplete icomplete-mode
	(should (equal (nth 1 (trawl-test-visit #'trawl-project-find-file
						".c\n"))
		       (car ranked)))))))

(defmacro trawl-test-with-vertico (&rest body)
  "Run BODY with `vertico-mode' on; skip when vertico is not installed."
  (declare (indent 0))
  `(progn
     (skip-unless (require 'vertico nil t))
     (vertico-mode 1)
     (unwind-protect (progn ,@body)
       (vertico-mode -1))))

(ert-deftest trawl-test-should-open-the-file-chosen-with-vertico ()
  (trawl-test-with-daemon
    (trawl-test-with-vertico
      (should (equal (cdr (trawl-test-visit #'trawl-find-file "gamma.txt\r"))
                     (list (trawl-test-file "alpha/beta/gamma.txt") "gamma\n"))))))

(defun trawl-test-keys-to-pick (query target &optional dir)
  "Return the keys that type QUERY and pick TARGET from vertico's list.
The candidates are the daemon's for QUERY under DIR.  There must be
more than one, so that only a working vertico opens TARGET."
  (let* ((ranked (trawl--candidates query dir))
         (index (seq-position ranked target)))
    (should (and index (cdr ranked)))
    (vconcat query (make-vector index ?\C-n) "\r")))

(ert-deftest trawl-test-should-open-a-file-whose-name-is-not-utf-8 ()
  (trawl-test-with-daemon
    (trawl-test-with-vertico
      (pcase-let ((`(,_ ,file ,text)
                   (trawl-test-visit #'trawl-find-file
                                     (trawl-test-keys-to-pick "caf"
                                                              trawl-test-latin1))))
        (should (equal (encode-coding-string file 'utf-8-unix)
                       (encode-coding-string trawl-test-latin1 'utf-8-unix)))
        (should (equal text "latin1 bytes\n"))))))

(ert-deftest trawl-test-should-open-a-unicode-file-with-vertico ()
  (trawl-test-with-daemon
    (trawl-test-with-vertico
      (should (equal (cdr (trawl-test-visit #'trawl-find-file
                                            (trawl-test-keys-to-pick
                                             "txt" trawl-test-unicode)))
                     (list trawl-test-unicode "unicode\n"))))))

(ert-deftest trawl-test-should-open-the-projects-file-with-vertico ()
  (trawl-test-with-daemon
    (trawl-test-with-vertico
      (let* ((root (trawl-test-file "proj/"))
             (project-find-functions (list (lambda (_) (cons 'transient root))))
             (ranked (trawl--candidates ".c" root)))
        (should (equal (nth 1 (trawl-test-visit #'trawl-project-find-file
                                                ".c\C-n\r"))
                       (nth 1 ranked)))))))

(ert-deftest trawl-test-should-open-the-file-chosen-through-consult ()
  (trawl-test-with-daemon
    (trawl-test-with-vertico
      (skip-unless (require 'consult nil t))
      (let ((consult-async-input-throttle 0)
            (consult-async-input-debounce 0)
            (consult-async-min-input 1)
            (consult-preview-key nil))
	;; Consult computes candidates on timers, which run while the
	;; <f8> command sleeps: that is the user pausing before RET.
	(define-key minibuffer-local-map [f8]
          (lambda () (interactive) (sleep-for 0.3)))
	(unwind-protect
            (should (equal (cdr (trawl-test-visit #'trawl-consult-find-file
                                                  [?g ?a ?m ?m ?a f8 ?\r]))
                           (list (trawl-test-file "alpha/beta/gamma.txt")
				 "gamma\n")))
          (define-key minibuffer-local-map [f8] nil))))))

(provide 'trawl-test)
;;; trawl-test.el ends here
