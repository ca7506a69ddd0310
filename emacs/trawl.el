;;; trawl.el --- Find any file on the machine through trawld  -*- lexical-binding: t; -*-

;; Copyright (C) 2026 The trawl authors

;; Author: The trawl authors
;; Version: 0.1.0
;; Package-Requires: ((emacs "28.1"))
;; Keywords: files, matching, convenience

;; This file is not part of GNU Emacs.

;; This program is free software; you can redistribute it and/or modify
;; it under the terms of the GNU General Public License as published by
;; the Free Software Foundation, either version 3 of the License, or
;; (at your option) any later version.

;; This program is distributed in the hope that it will be useful,
;; but WITHOUT ANY WARRANTY; without even the implied warranty of
;; MERCHANTABILITY or FITNESS FOR A PARTICULAR PURPOSE.  See the
;; GNU General Public License for more details.

;; You should have received a copy of the GNU General Public License
;; along with this program.  If not, see <https://www.gnu.org/licenses/>.

;;; Commentary:

;; The Emacs client of trawld, the daemon that keeps every path of the
;; machine in memory and answers ranked fuzzy queries over a Unix
;; socket (docs/PROTOCOL.md).
;;
;; Commands:
;;
;;   `trawl-find-file'                  any path trawld indexes
;;   `trawl-project-find-file'          paths under the current project
;;   `trawl-find-file-other-window'     the same, in another window
;;   `trawl-project-find-file-other-window'
;;   `trawl-consult-find-file'          through `consult', when installed
;;   `trawl-status'                     what the daemon is doing
;;
;; Each input is a trawl query (docs/QUERY.md): `nginx conf', `'exact',
;; `^prefix', `suffix$', `!not'.  The daemon filters and ranks; Emacs
;; keeps its order.  Candidates are absolute file names of completion
;; category `file', so marginalia and embark treat them as files.  They
;; work with the default completion UI (TAB lists the matches),
;; icomplete and fido (C-j / RET take the first), and vertico.
;;
;; Emacs holds one connection to the daemon.  When nothing answers on
;; the socket, Emacs starts `trawl-program' (trawld) itself, detached
;; with setsid so that it outlives Emacs, and waits for it up to
;; `trawl-start-timeout' seconds.  Set `trawl-program' to nil to never
;; start it (for instance when a service manager runs it).
;;
;; Suggested bindings:
;;
;;   (keymap-global-set "C-c f" #'trawl-find-file)     ; Emacs 29
;;   (global-set-key (kbd "C-c f") #'trawl-find-file)  ; Emacs 28
;;   (define-key project-prefix-map "t" #'trawl-project-find-file)

;;; Code:

(require 'cl-lib)
(require 'json)
(require 'subr-x)

(declare-function project-root "project" (project))
(declare-function consult--read "ext:consult" (candidates &rest options))
(declare-function consult--dynamic-collection "ext:consult" (fun &rest args))
(declare-function consult--file-preview "ext:consult" ())

;;;; Options

(defgroup trawl nil
  "Find any file through the trawld daemon."
  :group 'files
  :prefix "trawl-")

(defcustom trawl-socket nil
  "The daemon's socket file.
nil means the default of docs/PROTOCOL.md: $TRAWL_SOCKET, else
$XDG_RUNTIME_DIR/trawl/socket, else /tmp/trawl-UID/socket; but when
no socket is there and a system daemon's is at /run/trawl/socket,
that one.
A string is the socket's file name."
  :type '(choice (const :tag "Default ($TRAWL_SOCKET, $XDG_RUNTIME_DIR...)" nil)
                 (file :tag "Socket file")))

(defcustom trawl-program "trawld"
  "The daemon program started when nothing answers on the socket.
A string is a program name looked up in the variable `exec-path',
or a file name.  It runs as PROGRAM --socket SOCKET followed by
`trawl-program-args', detached from Emacs (in its own session,
through setsid, when that exists) so that it outlives Emacs.  Its
output goes to the log the trawl command uses too:
$XDG_STATE_HOME/trawl/trawld.log, else ~/.local/state/trawl/trawld.log.
nil means never start the daemon: commands fail with a message
instead."
  :type '(choice (string :tag "Program")
                 (const :tag "Never start the daemon" nil)))

(defcustom trawl-program-args nil
  "Arguments given to `trawl-program' after --socket SOCKET.
For example (\"--root\" \"/home\")."
  :type '(repeat string))

(defcustom trawl-start-timeout 5
  "Seconds to wait for a daemon that Emacs started to answer."
  :type 'number)

(defcustom trawl-timeout 3
  "Seconds to wait for the daemon's answer to one request."
  :type 'number)

(defcustom trawl-limit 100
  "How many results to ask the daemon for, 1 to 10000."
  :type 'natnum)

(defcustom trawl-entry-type nil
  "Which entries to offer.
nil means every kind, \"f\" files only, \"d\" directories only,
\"l\" symbolic links only."
  :type '(choice (const :tag "Every kind" nil)
                 (const :tag "Files" "f")
                 (const :tag "Directories" "d")
                 (const :tag "Symbolic links" "l")))

(defcustom trawl-frecency t
  "Non-nil means paths picked before rank higher.
Every file chosen through trawl is reported to the daemon (the
`pick' request) whatever this says; this only decides whether
queries ask for the boost."
  :type 'boolean)

;;;; Connection

(defvar trawl--process nil
  "The connection to the daemon, or nil.")

(defvar trawl--handlers (make-hash-table :test #'eql)
  "Request id to the function that takes the answer lines of that request.")

(defvar trawl--last-id 0
  "The id of the last request sent.")

(defvar trawl--current-query nil
  "The last query sent, a `trawl--query'.")

(defvar trawl--dropped-lines 0
  "How many answer lines arrived for no pending request (stale replies).")

(cl-defstruct (trawl--query (:constructor trawl--query-create)
                            (:copier nil))
  "A query sent to the daemon and what came back for it."
  id (results nil) (done nil) (error nil) (matched nil))

(defconst trawl--system-socket "/run/trawl/socket"
  "The socket of a system daemon (trawld --system).")

(defun trawl--socket ()
  "Return the socket file name, resolved as in docs/PROTOCOL.md."
  (let ((env (lambda (name)
               (let ((value (getenv name)))
                 (and value (not (string-empty-p value)) value)))))
    (or (and trawl-socket (expand-file-name trawl-socket))
        (and (funcall env "TRAWL_SOCKET")
             (expand-file-name (funcall env "TRAWL_SOCKET")))
        (let ((own (expand-file-name
                    (if-let ((runtime (funcall env "XDG_RUNTIME_DIR")))
                        (expand-file-name "trawl/socket" runtime)
                      (format "/tmp/trawl-%d/socket" (user-uid))))))
          (if (and (not (file-exists-p own))
                   (file-exists-p trawl--system-socket))
              trawl--system-socket
            own)))))

(defun trawl--json-encode (object)
  "Return OBJECT, a plist, as one line of JSON."
  (if (json-available-p)
      (json-serialize object)
    (let ((json-encoding-pretty-print nil))
      (json-encode object))))

(defun trawl--json-parse (line)
  "Return LINE, a JSON object, as a plist with keyword keys.
null and false become nil, arrays lists."
  (if (json-available-p)
      (json-parse-string line :object-type 'plist :array-type 'list
                         :null-object nil :false-object nil)
    (let ((json-object-type 'plist) (json-array-type 'list)
          (json-key-type 'keyword) (json-null nil) (json-false nil))
      (json-read-from-string line))))

(defun trawl--filter (proc output)
  "Take OUTPUT from PROC: hand each complete line to its request's handler.
A partial line waits in PROC's `trawl-partial' property for the rest."
  (let ((text (concat (process-get proc 'trawl-partial) output))
        (start 0)
        newline)
    (while (setq newline (string-search "\n" text start))
      (trawl--dispatch (substring text start newline))
      (setq start (1+ newline)))
    (process-put proc 'trawl-partial (substring text start))))

(defun trawl--dispatch (line)
  "Give LINE, one answer from the daemon, to the handler of its request.
Lines of requests no longer pending are counted and dropped.  Errors
are reported, never signaled: this runs in the process filter."
  (condition-case err
      (let* ((msg (trawl--json-parse line))
             (id (plist-get msg :id))
             (handler (and id (gethash id trawl--handlers))))
        (cond (handler
               (when (funcall handler msg)
                 (remhash id trawl--handlers)))
              ((and (null id) (plist-get msg :error))
               (message "Trawld answered: %s" (plist-get msg :error)))
              (t (cl-incf trawl--dropped-lines))))
    (error (message "Bad answer from trawld: %s"
                    (error-message-string err)))))

(defun trawl--fail-all (reason)
  "End every pending request with the error REASON, a message for the user."
  (let ((handlers trawl--handlers))
    (setq trawl--handlers (make-hash-table :test #'eql))
    (maphash (lambda (_id handler)
               (condition-case nil
                   (funcall handler (list :error reason :local t))
                 (error nil)))
             handlers)))

(defun trawl--sentinel (proc _event)
  "Forget PROC once the connection is closed, failing what it had pending."
  (unless (process-live-p proc)
    (when (eq proc trawl--process)
      (setq trawl--process nil)
      (trawl--fail-all "The connection to trawld closed"))))

(defvar trawl--open-error nil
  "Why the last `trawl--open' failed, from the system.")

(defun trawl--open (socket)
  "Connect to SOCKET and return the process, or nil when that fails.
Then `trawl--open-error' says why: nothing listens, no such file,
no permission."
  (condition-case err
      (make-network-process
       :name "trawl" :family 'local :service socket
       :coding 'utf-8-unix :noquery t
       :filter #'trawl--filter :sentinel #'trawl--sentinel)
    (file-error
     (setq trawl--open-error (or (nth 2 err) (error-message-string err)))
     nil)))

(defun trawl--log-file ()
  "Return the file a daemon started by Emacs writes its output to.
It is the one the trawl command uses: $XDG_STATE_HOME/trawl/trawld.log,
else ~/.local/state/trawl/trawld.log."
  (let ((state (getenv "XDG_STATE_HOME")))
    (expand-file-name "trawl/trawld.log"
                      (if (and state (not (string-empty-p state)))
                          state
                        "~/.local/state"))))

(defconst trawl--spawn-script
  "log=$1; shift
if command -v setsid >/dev/null 2>&1; then exec setsid \"$@\"; else exec \"$@\"; fi \
</dev/null >>\"$log\" 2>&1 &
echo $!"
  "Shell script that starts its arguments detached, output to the log $1.
It prints the pid of the detached process.  Its own session keeps the
daemon alive when Emacs or its terminal goes.")

(defun trawl--alive-p (pid)
  "Return non-nil if process PID exists and is not a zombie."
  (let ((attributes (process-attributes pid)))
    (and attributes (not (equal (alist-get 'state attributes) "Z")))))

(defun trawl--log-size (log)
  "Return the size of the file LOG in bytes, 0 when it does not exist."
  (or (file-attribute-size (file-attributes log)) 0))

(defun trawl--log-line (log offset)
  "Return the first line written to the file LOG past byte OFFSET, or nil."
  (ignore-errors
    (with-temp-buffer
      (insert-file-contents log nil offset)
      (goto-char (point-min))
      (skip-chars-forward "\n")
      (let ((line (buffer-substring (point) (line-end-position))))
        (and (not (string-empty-p line)) line)))))

(defun trawl--start (socket)
  "Start the daemon on SOCKET and return a connection to it.
Signal `user-error' when it cannot be started, exits, or does not
answer within `trawl-start-timeout' seconds."
  (let* ((default-directory "/")
         (program (and trawl-program (executable-find trawl-program)))
         (log (trawl--log-file))
         (log-offset (trawl--log-size log))
         (deadline (+ (float-time) trawl-start-timeout))
         pid proc)
    (cond ((null trawl-program)
           (user-error "No trawld answers on %s: %s" socket trawl--open-error))
          ((null program)
           (user-error "No trawld answers on %s (%s), and `%s' is not found"
                       socket trawl--open-error trawl-program)))
    (message "Starting %s..." program)
    (ignore-errors (make-directory (file-name-directory log) t))
    ;; trawld makes the default socket's directory only; make any, private,
    ;; as the trawl command does.
    (ignore-errors
      (with-file-modes #o700
        (make-directory (file-name-directory socket) t)))
    (with-temp-buffer
      (apply #'call-process "/bin/sh" nil t nil "-c" trawl--spawn-script "sh" log
             program "--socket" socket trawl-program-args)
      (setq pid (string-to-number (buffer-string))))
    (while (and (not (setq proc (trawl--open socket)))
                (trawl--alive-p pid)
                (< (float-time) deadline))
      (sleep-for 0.05))
    (unless proc
      (if (trawl--alive-p pid)
          (user-error "Started %s, but nothing answers on %s after %s s (log: %s)"
                      program socket trawl-start-timeout log)
        (user-error "%s exited: %s (log: %s)"
                    program (or (trawl--log-line log log-offset) "no output") log)))
    (message nil)
    proc))

(defun trawl--send (proc request handler)
  "Send REQUEST, a plist without id, on PROC and return its id.
HANDLER is called with each answer line (a plist) and returns
non-nil once the request is answered in full."
  (let ((id (cl-incf trawl--last-id)))
    (puthash id handler trawl--handlers)
    (condition-case err
        (process-send-string
         proc (concat (trawl--json-encode `(:id ,id ,@request)) "\n"))
      (error
       (remhash id trawl--handlers)
       (user-error "Cannot send to trawld: %s" (error-message-string err))))
    id))

(defun trawl--wait (proc done-p)
  "Read from PROC until the function DONE-P is satisfied; return its value.
Give up after `trawl-timeout' seconds or when PROC dies, and return nil."
  (let ((deadline (+ (float-time) trawl-timeout)))
    (while (and (not (funcall done-p))
                (process-live-p proc)
                (< (float-time) deadline))
      (accept-process-output proc 0.05))
    (funcall done-p)))

(defun trawl--request (proc request)
  "Send REQUEST on PROC, wait for its one answer line and return it.
Signal `user-error' on an error answer, a timeout or a closed connection."
  (let* ((answer nil)
         (id (trawl--send proc request (lambda (msg) (setq answer msg)))))
    (unless (trawl--wait proc (lambda () answer))
      (remhash id trawl--handlers)
      (user-error (if (process-live-p proc)
                      "No answer from trawld within %s s"
                    "The connection to trawld closed")
                  trawl-timeout))
    (when-let ((err (trawl--error-text answer)))
      (user-error "%s" err))
    answer))

(defun trawl--error-text (msg)
  "Return the error of the answer MSG as a message for the user, or nil."
  (when-let ((err (plist-get msg :error)))
    (cond ((plist-get msg :local) err)
          ((plist-get msg :offset)
           (format "Trawld answered: %s (at byte %d of the query)"
                   err (plist-get msg :offset)))
          (t (format "Trawld answered: %s" err)))))

(defun trawl--disconnect ()
  "Close the connection to the daemon, if any."
  (when trawl--process
    (let ((proc trawl--process))
      (setq trawl--process nil)
      (delete-process proc)
      (trawl--fail-all "Disconnected from trawld"))))

(defun trawl--connection ()
  "Return a live connection to the daemon.
Connect, and start the daemon when nothing answers, as needed.
Signal `user-error' when that fails."
  (let ((socket (trawl--socket)))
    ;; Notice a daemon that went away before writing to it: its end of file
    ;; may wait unread, and writing would raise SIGPIPE (fatal in batch).
    (when (process-live-p trawl--process)
      (accept-process-output trawl--process 0 nil t))
    (unless (and (process-live-p trawl--process)
                 (equal (process-get trawl--process 'trawl-socket) socket))
      (trawl--disconnect)
      (let ((proc (or (trawl--open socket) (trawl--start socket))))
        (process-put proc 'trawl-socket socket)
        (setq trawl--process proc)
        (condition-case err
            (let ((version (plist-get (trawl--request proc '(:op "hello"))
                                      :protocol)))
              (unless (eql version 1)
                (user-error "Trawld speaks protocol %s; trawl.el speaks 1"
                            version)))
          (error (trawl--disconnect)
                 (signal (car err) (cdr err))))))
    trawl--process))

;;;; File names

(defun trawl--file-coding ()
  "Return the coding system of file names."
  (or file-name-coding-system default-file-name-coding-system 'utf-8-unix))

(defun trawl--utf-8-coding-p (coding)
  "Return non-nil if CODING encodes text as UTF-8."
  (eq (coding-system-type coding) 'utf-8))

(defun trawl--result-name (msg)
  "Return the file name of the result MSG, decoded as Emacs expects it.
Raw bytes that are not text in `file-name-coding-system' become
eight-bit characters, which encode back to the same bytes."
  (let ((coding (trawl--file-coding))
        (path (plist-get msg :path))
        (raw (plist-get msg :path_bytes)))
    (cond (raw (decode-coding-string (base64-decode-string raw) coding t))
          ((trawl--utf-8-coding-p coding) path)
          (t (decode-coding-string (encode-coding-string path 'utf-8-unix t)
                                   coding t)))))

(defun trawl--path-fields (name key bytes-key)
  "Return file NAME as a request field: KEY and text, or BYTES-KEY and base64.
The text form is used when NAME's bytes are valid UTF-8."
  (let* ((raw (encode-coding-string name (trawl--file-coding) t))
         (text (decode-coding-string raw 'utf-8-unix t)))
    (if (memq 'eight-bit (find-charset-string text))
        (list bytes-key (base64-encode-string raw t))
      (list key text))))

(defun trawl--char-offsets (name byte-offsets)
  "Return the character offsets in NAME of ascending BYTE-OFFSETS.
The offsets count bytes of NAME encoded in `file-name-coding-system'."
  (if (string-match-p "\\`[[:ascii:]]*\\'" name)
      byte-offsets
    (let* ((coding (trawl--file-coding))
           (utf-8 (trawl--utf-8-coding-p coding))
           (len (length name))
           (char 0)
           (byte 0)
           (width (lambda (c)
                    (cond ((not utf-8)
                           (length (encode-coding-string (string c) coding t)))
                          ((< c #x80) 1) ((< c #x800) 2) ((< c #x10000) 3)
                          ((< c #x110000) 4)
                          (t 1))))                   ; an eight-bit raw byte
           offsets)
      (dolist (target byte-offsets)
        (while (and (< char len)
                    (<= (+ byte (funcall width (aref name char))) target))
          (setq byte (+ byte (funcall width (aref name char)))
                char (1+ char)))
        (when (and (< char len) (not (eql char (car offsets))))
          (push char offsets)))
      (nreverse offsets))))

(defun trawl--candidate (msg)
  "Return the completion candidate for the result MSG.
Directories end in a slash; matched characters have the face
`completions-common-part'."
  (let* ((name (trawl--result-name msg))
         (candidate (if (and (equal (plist-get msg :type) "d")
                             (not (string-suffix-p "/" name)))
                        (concat name "/")
                      (copy-sequence name))))
    (dolist (i (trawl--char-offsets name (plist-get msg :positions)))
      (add-face-text-property i (1+ i) 'completions-common-part nil candidate))
    candidate))

;;;; Queries

(defun trawl--query-send (proc query &optional under)
  "Send QUERY on PROC, restricted to directory UNDER when non-nil.
Return the new `trawl--query'.  A query still running is abandoned:
its later lines are dropped, and the daemon cancels it."
  (let* ((q (trawl--query-create))
         ;; A blank query matches no character: nothing to highlight.
         (request `(:op "query" :query ,query :limit ,trawl-limit
                        ,@(and (not (string-blank-p query)) '(:positions t))
                        ,@(and trawl-frecency '(:frecency t))
                        ,@(and trawl-entry-type (list :type trawl-entry-type))
                        ,@(and under (trawl--path-fields
                                      (directory-file-name under)
                                      :under :under_bytes))))
         (handler
          (lambda (msg)
            (cond ((plist-get msg :error)
                   (setf (trawl--query-error q) (trawl--error-text msg)
                         (trawl--query-done q) t))
                  ((plist-get msg :done)
                   (setf (trawl--query-results q)
                         (nreverse (trawl--query-results q))
                         (trawl--query-matched q) (plist-get msg :matched)
                         (trawl--query-done q) t))
                  (t (push (trawl--candidate msg) (trawl--query-results q))
                     nil)))))
    (trawl--query-abandon trawl--current-query)
    (setf (trawl--query-id q) (trawl--send proc request handler))
    (setq trawl--current-query q)))

(defun trawl--query-abandon (q &optional cancel)
  "Stop waiting for the query Q; its later answer lines are dropped.
With CANCEL, also ask the daemon to stop it if it is still running.
A newer query needs no cancel: the daemon ends the older by itself."
  (when (and q (not (trawl--query-done q)))
    (remhash (trawl--query-id q) trawl--handlers)
    (setf (trawl--query-done q) t
          (trawl--query-error q) "Abandoned")
    (when (and cancel (process-live-p trawl--process))
      (ignore-errors
        (trawl--send trawl--process `(:op "cancel" :target ,(trawl--query-id q))
                     #'always)))))

(defun trawl--candidates (query &optional under)
  "Return the daemon's candidates for QUERY, best first.
UNDER, a directory, restricts them to its subtree.
Signal `user-error' when the daemon cannot answer."
  (let* ((proc (trawl--connection))
         (q (trawl--query-send proc query under)))
    (unless (trawl--wait proc (lambda () (trawl--query-done q)))
      (trawl--query-abandon q 'cancel)
      (user-error (if (process-live-p proc)
                      "No answer from trawld within %s s"
                    "The connection to trawld closed")
                  trawl-timeout))
    (when-let ((err (trawl--query-error q)))
      (user-error "%s" err))
    (trawl--query-results q)))

(defun trawl--candidates-while-no-input (query under)
  "Return the candidates for QUERY under UNDER, or `interrupted'.
Typing interrupts the wait; inside a `while-no-input' of the
caller (vertico's, icomplete's) the caller's one is used."
  (if throw-on-input
      (trawl--candidates query under)
    (let ((result (while-no-input (list (trawl--candidates query under)))))
      (if (consp result) (car result) 'interrupted))))

;;;; Completion

(defconst trawl--metadata
  '(metadata (category . file)
             (display-sort-function . identity)
             (cycle-sort-function . identity))
  "Completion metadata: files, in the daemon's order.")

(defun trawl--existing-file-p (name)
  "Return non-nil if NAME is an absolute name of an existing local file."
  (and (file-name-absolute-p name)
       (let ((file-name-handler-alist nil))
         (file-exists-p name))))

(defun trawl--completion-table (&optional under seed)
  "Return a completion table whose input is a query to the daemon.
UNDER restricts the results to a directory.  SEED, when non-nil, is
\(QUERY . CANDIDATES) already known."
  (let ((query (car seed))
        (candidates (cdr seed)))
    (lambda (string pred action)
      (pcase action
        ('metadata trawl--metadata)
        (`(boundaries . ,_) nil)
        ('lambda (and (or (member string candidates)
                          (trawl--existing-file-p string))
                      t))
        (_
         (unless (equal string query)
           (pcase (condition-case err
                      (trawl--candidates-while-no-input string under)
                    (error (message "%s" (error-message-string err))
                           nil))
             ('interrupted)
             (found (setq query string candidates found))))
         (let ((all (if pred (seq-filter pred candidates) candidates)))
           (cond ((eq action t) all)
                 ((null all) nil)
                 ((cdr all) string)
                 ((equal (car all) string) t)
                 (t (car all)))))))))

(defun trawl--style-try (string table pred point)
  "Try to complete STRING in TABLE with PRED at POINT: the `trawl' style.
The daemon matched already: a single candidate completes, more
leave the input as it is."
  (let ((all (all-completions string table pred)))
    (cond ((null all) nil)
          ((cdr all) (cons string point))
          ((equal (car all) string) t)
          (t (cons (car all) (length (car all)))))))

(defun trawl--style-all (string table pred _point)
  "Return every candidate of STRING in TABLE with PRED: the `trawl' style."
  (let ((all (all-completions string table pred)))
    (and all (nconc (copy-sequence all) 0))))

(add-to-list 'completion-styles-alist
             '(trawl trawl--style-try trawl--style-all
                     "Candidates exactly as the trawld daemon matched them."))

(defun trawl--minibuffer-setup ()
  "Let the daemon's answers through whatever completion styles are set."
  (setq-local completion-styles '(trawl))
  (setq-local completion-category-overrides '((file (styles trawl)))))

(defun trawl--pick (file)
  "Tell the daemon that the user chose FILE, without waiting for it."
  (when (process-live-p trawl--process)
    (let ((name (if (equal file "/") file (directory-file-name file))))
      (ignore-errors
        (trawl--send trawl--process
                     `(:op "pick" ,@(trawl--path-fields name :path :path_bytes))
                     (lambda (msg)
                       (when-let ((err (trawl--error-text msg)))
                         (message "%s" err))
                       t))))))

(defun trawl--visitable (file)
  "Return FILE as `find-file' must see it to open this local file."
  (if (file-remote-p file) (file-name-quote file) file))

(defun trawl-read-file (prompt &optional dir)
  "Read a file name with PROMPT from the daemon's answers and return it.
Each input is a trawl query; DIR, when non-nil, restricts the
candidates to that directory's subtree.  The file chosen is
reported to the daemon, which ranks it higher next time."
  (let* ((under (and dir (expand-file-name dir)))
         (table (trawl--completion-table under
                                         (cons "" (trawl--candidates "" under))))
         (file (unwind-protect
                   (minibuffer-with-setup-hook (:append #'trawl--minibuffer-setup)
                     (completing-read prompt table nil t nil 'file-name-history))
                 (trawl--query-abandon trawl--current-query 'cancel))))
    (when (string-empty-p file)
      (user-error "No file chosen"))
    (trawl--pick file)
    (trawl--visitable file)))

(defun trawl--project-root ()
  "Return the current project's root directory, asking when there is none."
  (require 'project)
  (let ((root (expand-file-name (project-root (project-current t)))))
    (when (file-remote-p root)
      (user-error "%s is remote; trawld indexes this machine only" root))
    (file-name-as-directory (file-truename root))))

(defun trawl--read-project-file (prompt)
  "Read a file of the current project with PROMPT, a format for the root."
  (let ((root (trawl--project-root)))
    (trawl-read-file (format prompt (abbreviate-file-name root)) root)))

;;;; Commands

;;;###autoload
(defun trawl-find-file (file)
  "Visit FILE, read with any path of the machine as a candidate.
Each input is a trawl query; the daemon ranks what matches."
  (interactive (list (trawl-read-file "Find file (trawl): ")))
  (find-file file))

;;;###autoload
(defun trawl-find-file-other-window (file)
  "Visit FILE in another window; read it as `trawl-find-file' does."
  (interactive (list (trawl-read-file "Find file in other window (trawl): ")))
  (find-file-other-window file))

;;;###autoload
(defun trawl-project-find-file (file)
  "Visit FILE, read with the files of the current project as candidates."
  (interactive (list (trawl--read-project-file "Find file in %s: ")))
  (find-file file))

;;;###autoload
(defun trawl-project-find-file-other-window (file)
  "Visit FILE of the current project in another window."
  (interactive (list (trawl--read-project-file
                      "Find file in %s in other window: ")))
  (find-file-other-window file))

;;;###autoload
(defun trawl-status ()
  "Show what the daemon is doing in the echo area."
  (interactive)
  (let* ((status (trawl--request (trawl--connection) '(:op "status")))
         (walk (plist-get status :walk)))
    (message "trawld %s (pid %s, %s): %s entries, %s, walk %s"
             (plist-get status :version) (plist-get status :pid) (trawl--socket)
             (plist-get status :entries)
             (if (plist-get status :ready) "ready" "not ready yet")
             (or (plist-get walk :state) "unknown"))))

;;;; Consult

(defun trawl--consult-read (prompt under)
  "Read a file with PROMPT through `consult--read', restricted to UNDER."
  (trawl--connection)
  (let ((file (unwind-protect
                  (consult--read
                   (consult--dynamic-collection
                    (lambda (input)
                      (condition-case err
                          (trawl--candidates input under)
                        (error (message "%s" (error-message-string err))
                               nil))))
                   :prompt prompt
                   :sort nil
                   :require-match t
                   :category 'file
                   :state (consult--file-preview)
                   :history 'file-name-history)
                (trawl--query-abandon trawl--current-query 'cancel))))
    (trawl--pick file)
    (trawl--visitable file)))

;;;###autoload
(defun trawl-consult-find-file (&optional project)
  "Visit a file read through `consult', as an asynchronous source.
With a prefix argument PROJECT, offer the current project's files
only.  Needs the consult package; see `consult-async-split-style'
for the #query#filter input."
  (interactive "P")
  (unless (require 'consult nil t)
    (user-error "`trawl-consult-find-file' needs the consult package"))
  (find-file
   (if project
       (let ((root (trawl--project-root)))
         (trawl--consult-read (format "Find file in %s: "
                                      (abbreviate-file-name root))
                              root))
     (trawl--consult-read "Find file (trawl): " nil))))

(provide 'trawl)
;;; trawl.el ends here
