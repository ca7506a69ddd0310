/* test_conn.c: the client's connection: where it looks for the socket, how it cuts the
 * stream into JSON lines (partial, several at once, long, cut short, not objects), paths
 * as text or base64 bytes, and starting one daemon, detached, when none answers. The
 * daemon here is a shell script that listens with socat: these tests are about framing
 * and starting, not about trawld. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "conn.h"

/* ---- socket path ---- */

static void unset_socket_env(void)
{
	unsetenv("TRAWL_SOCKET");
	unsetenv("XDG_RUNTIME_DIR");
}

static void should_prefer_the_command_line_to_the_environment(void **state)
{
	(void)state;
	char buf[108];
	setenv("TRAWL_SOCKET", "/env/socket", 1);
	setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
	assert_int_equal(conn_socket_path("/cli/socket", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/cli/socket");
	unset_socket_env();
}

static void should_take_trawl_socket_before_the_runtime_dir(void **state)
{
	(void)state;
	char buf[108];
	setenv("TRAWL_SOCKET", "/env/socket", 1);
	setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
	assert_int_equal(conn_socket_path(NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/env/socket");
	unset_socket_env();
}

static void should_use_the_runtime_dir_when_trawl_socket_is_unset_or_empty(void **state)
{
	(void)state;
	char buf[108];
	setenv("XDG_RUNTIME_DIR", "/run/user/7", 1);
	assert_int_equal(conn_socket_path(NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/user/7/trawl/socket");
	setenv("TRAWL_SOCKET", "", 1);
	assert_int_equal(conn_socket_path(NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/user/7/trawl/socket");
	unset_socket_env();
}

static void should_fall_back_to_a_directory_in_tmp_named_by_uid(void **state)
{
	(void)state;
	char buf[108], expect[64];
	unset_socket_env();
	snprintf(expect, sizeof(expect), "/tmp/trawl-%u/socket", (unsigned)getuid());
	assert_int_equal(conn_socket_path(NULL, buf, sizeof(buf)), 0);
	assert_string_equal(buf, expect);
}

static void should_refuse_a_path_too_long_for_a_unix_socket(void **state)
{
	(void)state;
	char big[300], buf[400];
	memset(big, 'a', sizeof(big) - 1);
	big[0] = '/';
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(conn_socket_path(big, buf, sizeof(buf)), -ENAMETOOLONG);
	assert_int_equal(conn_socket_path("/a/b/c", buf, 4), -ENAMETOOLONG);
}

/* ---- framing, over a socket pair: the test writes the daemon's side ---- */

struct pair {
	struct conn conn;
	int peer;
};

static int pair_setup(void **state)
{
	struct pair *p = calloc(1, sizeof(*p));
	int sv[2];
	if (!p || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	fcntl(sv[0], F_SETFL, O_NONBLOCK); /* as conn_open() leaves it */
	p->conn = (struct conn){.fd = sv[0]};
	p->peer = sv[1];
	*state = p;
	return 0;
}

static int pair_teardown(void **state)
{
	struct pair *p = *state;
	conn_close(&p->conn);
	if (p->peer >= 0)
		close(p->peer);
	free(p);
	return 0;
}

static void peer_says(struct pair *p, const char *text)
{
	size_t len = strlen(text);
	assert_int_equal(write(p->peer, text, len), (ssize_t)len);
}

static void peer_hangs_up(struct pair *p)
{
	close(p->peer);
	p->peer = -1;
}

/* Read one line and check its "id". */
static void expect_line_with_id(struct pair *p, long long id)
{
	json_t *line = NULL;
	assert_int_equal(conn_read(&p->conn, &line, 1000), 0);
	assert_true(json_is_object(line));
	assert_int_equal(json_integer_value(json_object_get(line, "id")), id);
	json_decref(line);
}

static void should_wait_for_the_rest_of_a_partial_line(void **state)
{
	struct pair *p = *state;
	json_t *line = NULL;
	peer_says(p, "{\"id\":1,\"pa");
	assert_int_equal(conn_read(&p->conn, &line, 0), -EAGAIN);
	assert_null(line);
	assert_int_equal(conn_read(&p->conn, &line, 20), -EAGAIN);
	peer_says(p, "th\":\"/etc\"}");
	assert_int_equal(conn_read(&p->conn, &line, 0), -EAGAIN);
	peer_says(p, "\n");
	assert_int_equal(conn_read(&p->conn, &line, 0), 0);
	assert_string_equal(json_string_value(json_object_get(line, "path")), "/etc");
	json_decref(line);
}

static void should_return_several_lines_that_came_in_one_read(void **state)
{
	struct pair *p = *state;
	peer_says(p, "{\"id\":1}\n{\"id\":2}\n{\"id\":3,\"done\":true}\n{\"id\":4");
	expect_line_with_id(p, 1);
	expect_line_with_id(p, 2);
	expect_line_with_id(p, 3);
	json_t *line = NULL;
	assert_int_equal(conn_read(&p->conn, &line, 0), -EAGAIN);
	peer_says(p, "}\n");
	expect_line_with_id(p, 4);
}

static void should_read_a_line_much_longer_than_one_read(void **state)
{
	struct pair *p = *state;
	const size_t long_bytes = 3 << 20;
	/* A child writes, for the line is longer than the socket's buffer. */
	pid_t writer = fork();
	assert_true(writer >= 0);
	if (writer == 0) {
		char *text = malloc(long_bytes + 64);
		if (!text)
			_exit(1);
		int n = sprintf(text, "{\"id\":1,\"path\":\"/");
		memset(text + n, 'x', long_bytes);
		strcpy(text + n + long_bytes, "\"}\n{\"id\":2}\n");
		size_t len = strlen(text), done = 0;
		while (done < len) {
			ssize_t w = write(p->peer, text + done, len - done);
			if (w <= 0)
				_exit(1);
			done += (size_t)w;
		}
		_exit(0);
	}
	json_t *line = NULL;
	assert_int_equal(conn_read(&p->conn, &line, 5000), 0);
	assert_int_equal(json_string_length(json_object_get(line, "path")), long_bytes + 1);
	json_decref(line);
	expect_line_with_id(p, 2);
	int status;
	assert_int_equal(waitpid(writer, &status, 0), writer);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

static void should_report_an_end_in_the_middle_of_a_line_as_epipe(void **state)
{
	struct pair *p = *state;
	json_t *line = NULL;
	peer_says(p, "{\"id\":1}\n{\"id\":2,\"pa");
	peer_hangs_up(p);
	expect_line_with_id(p, 1);
	assert_int_equal(conn_read(&p->conn, &line, 1000), -EPIPE);
	assert_null(line);
}

static void should_report_an_end_between_lines_as_epipe(void **state)
{
	struct pair *p = *state;
	json_t *line = NULL;
	peer_says(p, "{\"id\":1}\n");
	peer_hangs_up(p);
	expect_line_with_id(p, 1);
	assert_int_equal(conn_read(&p->conn, &line, -1), -EPIPE);
}

static void should_reject_a_line_that_is_not_an_object_and_go_on(void **state)
{
	struct pair *p = *state;
	json_t *line = NULL;
	peer_says(p, "[1,2]\nnot json\n\"text\"\n{\"id\":5}\n");
	assert_int_equal(conn_read(&p->conn, &line, 0), -EPROTO);
	assert_null(line);
	assert_int_equal(conn_read(&p->conn, &line, 0), -EPROTO);
	assert_int_equal(conn_read(&p->conn, &line, 0), -EPROTO);
	expect_line_with_id(p, 5);
}

/* What the peer received, as text. */
static void expect_peer_got(struct pair *p, const char *expect)
{
	char buf[256];
	size_t len = strlen(expect), got = 0;
	while (got < len) {
		ssize_t n = read(p->peer, buf + got, len - got);
		assert_true(n > 0);
		got += (size_t)n;
	}
	buf[got] = '\0';
	assert_string_equal(buf, expect);
}

static void should_number_requests_from_one_and_end_each_with_a_newline(void **state)
{
	struct pair *p = *state;
	json_t *req = json_pack("{s:s}", "op", "status");
	assert_int_equal(conn_request(&p->conn, req), 1);
	json_object_del(req, "id");
	assert_int_equal(conn_request(&p->conn, req), 2);
	json_object_set_new(req, "id", json_integer(9));
	assert_int_equal(conn_request(&p->conn, req), 9);
	json_object_del(req, "id");
	assert_int_equal(conn_request(&p->conn, req), 10);
	expect_peer_got(p, "{\"op\":\"status\",\"id\":1}\n{\"op\":\"status\",\"id\":2}\n"
			   "{\"op\":\"status\",\"id\":9}\n{\"op\":\"status\",\"id\":10}\n");
	json_decref(req);
}

static void should_refuse_requests_the_protocol_does_not_allow(void **state)
{
	struct pair *p = *state;
	json_t *req = json_pack("{s:s, s:s}", "op", "query", "id", "text");
	assert_int_equal(conn_request(&p->conn, req), -EINVAL);
	json_decref(req);
	json_t *array = json_array();
	assert_int_equal(conn_request(&p->conn, array), -EINVAL);
	json_decref(array);
	char *big = malloc(70000);
	memset(big, 'q', 69999);
	big[69999] = '\0';
	req = json_pack("{s:s, s:s}", "op", "query", "query", big);
	assert_int_equal(conn_request(&p->conn, req), -EMSGSIZE);
	json_decref(req);
	free(big);
}

static void should_report_a_request_to_a_daemon_gone_as_epipe(void **state)
{
	struct pair *p = *state;
	peer_hangs_up(p);
	json_t *req = json_pack("{s:s}", "op", "status");
	assert_int_equal(conn_request(&p->conn, req), -EPIPE);
	json_decref(req);
}

/* ---- paths ---- */

static void should_take_a_utf8_path_from_path(void **state)
{
	(void)state;
	json_t *result = json_pack("{s:i, s:s}", "id", 1, "path", "/home/me/caf\xc3\xa9");
	char *path = NULL;
	size_t len = 0;
	assert_int_equal(conn_result_path(result, &path, &len), 0);
	assert_int_equal(len, 14);
	assert_string_equal(path, "/home/me/caf\xc3\xa9");
	free(path);
	json_decref(result);
}

static void should_decode_any_bytes_from_path_bytes(void **state)
{
	(void)state;
	/* "/data/\377\376-report" */
	json_t *result = json_pack("{s:s}", "path_bytes", "L2RhdGEv//4tcmVwb3J0");
	char *path = NULL;
	size_t len = 0;
	assert_int_equal(conn_result_path(result, &path, &len), 0);
	assert_int_equal(len, 15);
	assert_memory_equal(path, "/data/\377\376-report", 16);
	free(path);
	json_decref(result);
}

static void should_reject_a_result_without_a_readable_path(void **state)
{
	(void)state;
	char *path = NULL;
	size_t len = 0;
	json_t *none = json_pack("{s:i}", "id", 1);
	json_t *bad = json_pack("{s:s}", "path_bytes", "no*base64");
	json_t *number = json_pack("{s:i}", "path", 7);
	assert_int_equal(conn_result_path(none, &path, &len), -EPROTO);
	assert_int_equal(conn_result_path(bad, &path, &len), -EPROTO);
	assert_int_equal(conn_result_path(number, &path, &len), -EPROTO);
	assert_null(path);
	json_decref(none);
	json_decref(bad);
	json_decref(number);
}

static void should_send_a_path_as_text_or_as_base64_bytes(void **state)
{
	(void)state;
	static const char *const paths[] = {"/etc", "/", "/a\377", "/ab\376\377", "/abc\200"};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		json_t *obj = json_object();
		size_t len = strlen(paths[i]);
		assert_int_equal(conn_set_path(obj, "path", paths[i], len), 0);
		int is_utf8 = i < 2;
		assert_int_equal(json_object_get(obj, "path") != NULL, is_utf8);
		assert_int_equal(json_object_get(obj, "path_bytes") != NULL, !is_utf8);
		char *back = NULL;
		size_t back_len = 0;
		assert_int_equal(conn_result_path(obj, &back, &back_len), 0);
		assert_int_equal(back_len, len);
		assert_memory_equal(back, paths[i], len);
		free(back);
		json_decref(obj);
	}
}

/* ---- starting a daemon ---- */

struct start_env {
	char dir[64];
	char sock[128];
	char trawld[128]; /* a fake daemon that records its start and listens */
	char starts[128]; /* one line per start: its pid */
};

/* argv: --socket PATH. Sleeps first so that concurrent clients all find nothing. */
static const char fake_trawld[] = "#!/bin/sh\n"
				  "dir=$(dirname \"$2\")\n"
				  "echo $$ >>\"$dir/starts\"\n"
				  "readlink /proc/$$/fd/0 >\"$dir/stdin\"\n"
				  "ls /proc/$$/fd >\"$dir/fds\"\n"
				  "echo \"started $*\"\n"
				  "sleep 0.2\n"
				  "exec socat UNIX-LISTEN:\"$2\",fork /dev/null\n";

static void write_script(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	assert_int_equal(chmod(path, 0700), 0);
}

static int start_setup(void **state)
{
	struct start_env *e = calloc(1, sizeof(*e));
	if (!e)
		return -1;
	strcpy(e->dir, "/tmp/trawl-test-conn-XXXXXX");
	if (!mkdtemp(e->dir))
		return -1;
	snprintf(e->sock, sizeof(e->sock), "%s/run/trawl/socket", e->dir);
	snprintf(e->trawld, sizeof(e->trawld), "%s/fake-trawld", e->dir);
	snprintf(e->starts, sizeof(e->starts), "%s/run/trawl/starts", e->dir);
	char state_home[128];
	snprintf(state_home, sizeof(state_home), "%s/state", e->dir);
	setenv("XDG_STATE_HOME", state_home, 1);
	write_script(e->trawld, fake_trawld);
	*state = e;
	return 0;
}

/* The pids recorded by the fake daemon, up to `cap`. */
static size_t read_starts(const struct start_env *e, pid_t *pids, size_t cap)
{
	FILE *f = fopen(e->starts, "r");
	size_t n = 0;
	int pid;
	if (!f)
		return 0;
	while (n < cap && fscanf(f, "%d", &pid) == 1)
		pids[n++] = pid;
	fclose(f);
	return n;
}

static int start_teardown(void **state)
{
	struct start_env *e = *state;
	pid_t pids[8];
	size_t n = read_starts(e, pids, 8);
	for (size_t i = 0; i < n; i++)
		kill(pids[i], SIGTERM);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", e->dir);
	if (system(cmd) != 0)
		return -1;
	unsetenv("XDG_STATE_HOME");
	free(e);
	return 0;
}

static long long elapsed_ms(const struct timespec *since)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000LL + (now.tv_nsec - since->tv_nsec) / 1000000;
}

static void should_start_one_daemon_for_two_clients_at_once(void **state)
{
	struct start_env *e = *state;
	const struct conn_start start = {.is_enabled = 1, .trawld = e->trawld};
	pid_t clients[2];
	for (int i = 0; i < 2; i++) {
		clients[i] = fork();
		assert_true(clients[i] >= 0);
		if (clients[i] == 0) {
			struct conn c;
			int rc = conn_open(&c, e->sock, &start);
			_exit(rc == 0 ? 0 : 10 - rc);
		}
	}
	for (int i = 0; i < 2; i++) {
		int status;
		assert_int_equal(waitpid(clients[i], &status, 0), clients[i]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	pid_t pids[8];
	assert_int_equal(read_starts(e, pids, 8), 1);

	/* And a third finds it running. */
	struct conn c;
	assert_int_equal(conn_open(&c, e->sock, &start), 0);
	conn_close(&c);
	assert_int_equal(read_starts(e, pids, 8), 1);
}

static void should_start_the_daemon_detached_from_the_client(void **state)
{
	struct start_env *e = *state;
	const struct conn_start start = {.is_enabled = 1, .trawld = e->trawld};
	/* A descriptor the client leaves open must not reach the daemon. */
	int leak[2];
	assert_int_equal(pipe(leak), 0);
	struct conn c;
	assert_int_equal(conn_open(&c, e->sock, &start), 0);
	conn_close(&c);
	pid_t pid;
	assert_int_equal(read_starts(e, &pid, 1), 1);
	assert_true(getsid(pid) != getsid(0));
	assert_true(getsid(pid) != pid); /* not a session leader: it cannot get a terminal */

	char path[160], text[256] = "";
	snprintf(path, sizeof(path), "%s/run/trawl/stdin", e->dir);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	assert_string_equal(text, "/dev/null\n");

	snprintf(path, sizeof(path), "%s/run/trawl/fds", e->dir);
	f = fopen(path, "r");
	assert_non_null(f);
	int fd;
	while (fscanf(f, "%d", &fd) == 1) {
		assert_int_not_equal(fd, leak[0]);
		assert_int_not_equal(fd, leak[1]);
	}
	fclose(f);
	close(leak[0]);
	close(leak[1]);

	/* Its output went to the log, and the socket's directory is private. */
	char log[PATH_MAX];
	assert_int_equal(conn_log_path(log, sizeof(log)), 0);
	f = fopen(log, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	char expect[256];
	snprintf(expect, sizeof(expect), "started --socket %s\n", e->sock);
	assert_string_equal(text, expect);
	struct stat st;
	snprintf(path, sizeof(path), "%s/run/trawl", e->dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

static void should_start_nothing_when_not_allowed(void **state)
{
	struct start_env *e = *state;
	const struct conn_start start = {.is_enabled = 0, .trawld = e->trawld};
	struct conn c;
	assert_int_equal(conn_open(&c, e->sock, &start), -ENOENT);
	assert_int_equal(conn_open(&c, e->sock, NULL), -ENOENT);
	pid_t pid;
	assert_int_equal(read_starts(e, &pid, 1), 0);
}

static void should_report_a_daemon_that_cannot_run_as_echild(void **state)
{
	struct start_env *e = *state;
	char missing[160];
	snprintf(missing, sizeof(missing), "%s/no-such-trawld", e->dir);
	const struct conn_start start = {.is_enabled = 1, .trawld = missing};
	struct conn c;
	assert_int_equal(conn_open(&c, e->sock, &start), -ECHILD);
	char log[PATH_MAX], text[512] = "", expect[512];
	assert_int_equal(conn_log_path(log, sizeof(log)), 0);
	FILE *f = fopen(log, "r");
	assert_non_null(f);
	assert_non_null(fgets(text, sizeof(text), f));
	fclose(f);
	snprintf(expect, sizeof(expect), "trawl: cannot run '%s': No such file or directory\n",
		 missing);
	assert_string_equal(text, expect);
}

static void should_report_a_daemon_that_exits_at_once_as_echild(void **state)
{
	struct start_env *e = *state;
	char quitter[160];
	snprintf(quitter, sizeof(quitter), "%s/quitter", e->dir);
	write_script(quitter, "#!/bin/sh\necho 'trawld: cannot bind' >&2\nexit 1\n");
	const struct conn_start start = {.is_enabled = 1, .trawld = quitter};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct conn c;
	assert_int_equal(conn_open(&c, e->sock, &start), -ECHILD);
	assert_true(elapsed_ms(&t0) < 3000); /* noticed, not timed out */
}

static void should_give_up_on_a_daemon_that_never_answers(void **state)
{
	struct start_env *e = *state;
	char mute[160];
	snprintf(mute, sizeof(mute), "%s/mute", e->dir);
	/* Records itself where teardown kills it. */
	write_script(mute, "#!/bin/sh\nmkdir -p \"$(dirname \"$2\")\"\n"
			   "echo $$ >>\"$(dirname \"$2\")/starts\"\nexec sleep 10\n");
	const struct conn_start start = {.is_enabled = 1, .trawld = mute, .timeout_ms = 300};
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct conn c;
	assert_int_equal(conn_open(&c, e->sock, &start), -ETIMEDOUT);
	long long took_ms = elapsed_ms(&t0);
	assert_true(took_ms >= 250 && took_ms < 2000); /* 300, give or take the clocks */
}

#define FRAMING(f)  cmocka_unit_test_setup_teardown(f, pair_setup, pair_teardown)
#define STARTING(f) cmocka_unit_test_setup_teardown(f, start_setup, start_teardown)

int main(void)
{
	/* A client killed by SIGPIPE would hide what the tests check. */
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(should_prefer_the_command_line_to_the_environment),
	    cmocka_unit_test(should_take_trawl_socket_before_the_runtime_dir),
	    cmocka_unit_test(should_use_the_runtime_dir_when_trawl_socket_is_unset_or_empty),
	    cmocka_unit_test(should_fall_back_to_a_directory_in_tmp_named_by_uid),
	    cmocka_unit_test(should_refuse_a_path_too_long_for_a_unix_socket),
	    FRAMING(should_wait_for_the_rest_of_a_partial_line),
	    FRAMING(should_return_several_lines_that_came_in_one_read),
	    FRAMING(should_read_a_line_much_longer_than_one_read),
	    FRAMING(should_report_an_end_in_the_middle_of_a_line_as_epipe),
	    FRAMING(should_report_an_end_between_lines_as_epipe),
	    FRAMING(should_reject_a_line_that_is_not_an_object_and_go_on),
	    FRAMING(should_number_requests_from_one_and_end_each_with_a_newline),
	    FRAMING(should_refuse_requests_the_protocol_does_not_allow),
	    FRAMING(should_report_a_request_to_a_daemon_gone_as_epipe),
	    cmocka_unit_test(should_take_a_utf8_path_from_path),
	    cmocka_unit_test(should_decode_any_bytes_from_path_bytes),
	    cmocka_unit_test(should_reject_a_result_without_a_readable_path),
	    cmocka_unit_test(should_send_a_path_as_text_or_as_base64_bytes),
	    STARTING(should_start_one_daemon_for_two_clients_at_once),
	    STARTING(should_start_the_daemon_detached_from_the_client),
	    STARTING(should_start_nothing_when_not_allowed),
	    STARTING(should_report_a_daemon_that_cannot_run_as_echild),
	    STARTING(should_report_a_daemon_that_exits_at_once_as_echild),
	    STARTING(should_give_up_on_a_daemon_that_never_answers),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
