/* walk_prune.c: what the walker does not enter: updatedb.conf parsing, the default
 * pruned filesystem types, and the table of pruned paths, names and devices built from
 * the options and /proc/self/mountinfo. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "walk_internal.h"

/* Debian's updatedb.conf PRUNEFS (mlocate and plocate), plus pseudo filesystems added to
 * the kernel since: bpf, efivarfs, nsfs, selinuxfs. tmpfs is in it, as in updatedb: it
 * holds /run and /dev/shm. Pruning applies below the roots only, so a tmpfs /tmp given
 * as a root is still walked. */
const char *const walk_default_prune_fs[] = {
    "9p",
    "NFS",
    "afs",
    "autofs",
    "binfmt_misc",
    "bpf",
    "ceph",
    "cgroup",
    "cgroup2",
    "cifs",
    "coda",
    "configfs",
    "curlftpfs",
    "debugfs",
    "devfs",
    "devpts",
    "devtmpfs",
    "ecryptfs",
    "efivarfs",
    "ftpfs",
    "fuse.ceph",
    "fuse.cryfs",
    "fuse.encfs",
    "fuse.glusterfs",
    "fuse.gocryptfs",
    "fuse.gvfsd-fuse",
    "fuse.mfs",
    "fuse.rclone",
    "fuse.rozofs",
    "fuse.sshfs",
    "fusectl",
    "fusesmb",
    "hugetlbfs",
    "iso9660",
    "lustre",
    "lustre_lite",
    "mfs",
    "mqueue",
    "ncpfs",
    "nfs",
    "nfs4",
    "nsfs",
    "ocfs",
    "ocfs2",
    "proc",
    "pstore",
    "rpc_pipefs",
    "securityfs",
    "selinuxfs",
    "shfs",
    "smbfs",
    "sysfs",
    "tmpfs",
    "tracefs",
    "udev",
    "udf",
    "usbfs",
    NULL,
};

/* ---------------------------------------------------------------------------------------
 * updatedb.conf
 */

static int is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

/* Split `v` (`len` bytes) on blanks into one allocation: a NULL-ended pointer array
 * followed by the words. PRUNEPATHS words lose trailing slashes ("/" stays). */
static int split_words(const char *v, size_t len, int is_paths, const char *const **out)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		if (!is_blank(v[i]) && (i == 0 || is_blank(v[i - 1])))
			n++;
	}
	char **list = malloc((n + 1) * sizeof(*list) + len + n + 1);
	if (!list)
		return -ENOMEM;
	char *dst = (char *)(list + n + 1);
	size_t k = 0;
	for (size_t i = 0; i < len;) {
		if (is_blank(v[i])) {
			i++;
			continue;
		}
		size_t start = i;
		while (i < len && !is_blank(v[i]))
			i++;
		size_t wlen = i - start;
		while (is_paths && wlen > 1 && v[start + wlen - 1] == '/')
			wlen--;
		memcpy(dst, v + start, wlen);
		dst[wlen] = '\0';
		list[k++] = dst;
		dst += wlen + 1;
	}
	list[k] = NULL;
	*out = (const char *const *)list;
	return 0;
}

static int parse_bool(const char *v, size_t len, int *out)
{
	static const char *const yes[] = {"yes", "1", "true"}, *const no[] = {"no", "0", "false"};
	for (size_t i = 0; i < 3; i++) {
		if (strlen(yes[i]) == len && strncasecmp(v, yes[i], len) == 0) {
			*out = 1;
			return 0;
		}
		if (strlen(no[i]) == len && strncasecmp(v, no[i], len) == 0) {
			*out = 0;
			return 0;
		}
	}
	return -EINVAL;
}

static void free_list(const char *const **list)
{
	free((void *)*list);
	*list = NULL;
}

/* Parse one non-blank, non-comment line `s` (`len` bytes): KEY="value" [# comment]. */
static int parse_line(const char *s, size_t len, struct walk_prune *prune)
{
	size_t i = 0;
	while (i < len && (s[i] == '_' || (s[i] >= 'A' && s[i] <= 'Z')))
		i++;
	size_t key_len = i;
	while (i < len && is_blank(s[i]))
		i++;
	if (key_len == 0 || i == len || s[i++] != '=')
		return -EINVAL;
	while (i < len && is_blank(s[i]))
		i++;
	if (i == len || s[i++] != '"')
		return -EINVAL;
	const char *v = s + i;
	const char *close = memchr(v, '"', len - i);
	if (!close)
		return -EINVAL;
	size_t v_len = (size_t)(close - v);
	for (i += v_len + 1; i < len && is_blank(s[i]); i++)
		;
	if (i < len && s[i] != '#')
		return -EINVAL;

	const char *const **list = NULL;
	int is_paths = 0;
	if (key_len == 7 && memcmp(s, "PRUNEFS", 7) == 0) {
		list = &prune->fs_types;
	} else if (key_len == 10 && memcmp(s, "PRUNEPATHS", 10) == 0) {
		list = &prune->paths;
		is_paths = 1;
	} else if (key_len == 10 && memcmp(s, "PRUNENAMES", 10) == 0) {
		list = &prune->names;
	} else if (key_len == 17 && memcmp(s, "PRUNE_BIND_MOUNTS", 17) == 0) {
		return parse_bool(v, v_len, &prune->is_bind_mounts_pruned);
	} else {
		return -EINVAL;
	}
	/* A key given twice: the later line wins, as a shell would have it. */
	free_list(list);
	return split_words(v, v_len, is_paths, list);
}

int walk_prune_parse(const char *text, size_t len, struct walk_prune *prune, int *bad_line)
{
	memset(prune, 0, sizeof(*prune));
	if (bad_line)
		*bad_line = 0;
	int line = 0;
	for (size_t pos = 0; pos < len;) {
		const char *s = text + pos;
		const char *nl = memchr(s, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - s) : len - pos;
		pos += line_len + 1;
		line++;
		size_t i = 0;
		while (i < line_len && is_blank(s[i]))
			i++;
		if (i == line_len || s[i] == '#')
			continue;
		int rc =
		    memchr(s, '\0', line_len) ? -EINVAL : parse_line(s + i, line_len - i, prune);
		if (rc < 0) {
			if (rc == -EINVAL && bad_line)
				*bad_line = line;
			walk_prune_release(prune);
			return rc;
		}
	}
	return 0;
}

void walk_prune_release(struct walk_prune *prune)
{
	free_list(&prune->fs_types);
	free_list(&prune->paths);
	free_list(&prune->names);
	memset(prune, 0, sizeof(*prune));
}

/* ---------------------------------------------------------------------------------------
 * The prune table
 */

static uint64_t hash_bytes(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static int paths_add(struct walk_prune_table *t, const char *path, size_t len)
{
	if (walk_prune_table_has_path(t, path, len))
		return 0;
	if ((t->n_paths + 1) * 2 > t->paths_cap) {
		size_t cap = t->paths_cap ? t->paths_cap * 2 : 16;
		char **grown = calloc(cap, sizeof(*grown));
		if (!grown)
			return -ENOMEM;
		for (size_t i = 0; i < t->paths_cap; i++) {
			char *p = t->paths[i];
			if (!p)
				continue;
			size_t j = hash_bytes(p, strlen(p)) & (cap - 1);
			while (grown[j])
				j = (j + 1) & (cap - 1);
			grown[j] = p;
		}
		free(t->paths);
		t->paths = grown;
		t->paths_cap = cap;
	}
	char *copy = strndup(path, len);
	if (!copy)
		return -ENOMEM;
	size_t j = hash_bytes(path, len) & (t->paths_cap - 1);
	while (t->paths[j])
		j = (j + 1) & (t->paths_cap - 1);
	t->paths[j] = copy;
	t->n_paths++;
	return 0;
}

int walk_prune_table_has_path(const struct walk_prune_table *t, const char *path, size_t len)
{
	if (!t->paths_cap)
		return 0;
	size_t j = hash_bytes(path, len) & (t->paths_cap - 1);
	for (; t->paths[j]; j = (j + 1) & (t->paths_cap - 1)) {
		if (strncmp(t->paths[j], path, len) == 0 && t->paths[j][len] == '\0')
			return 1;
	}
	return 0;
}

int walk_prune_table_has_name(const struct walk_prune_table *t, const char *name, size_t len)
{
	for (const char *const *n = t->names; n && *n; n++) {
		if (strncmp(*n, name, len) == 0 && (*n)[len] == '\0')
			return 1;
	}
	return 0;
}

int walk_prune_table_has_dev(const struct walk_prune_table *t, uint64_t dev)
{
	for (size_t i = 0; i < t->n_devs; i++) {
		if (t->devs[i] == dev)
			return 1;
	}
	return 0;
}

/* One line of /proc/self/mountinfo, its strings pointing into the (unescaped) buffer. */
struct mount {
	int id;
	uint64_t dev;
	const char *root, *point, *type;
};

/* Cut the next space-separated field of `*s`, decoding the kernel's octal escapes
 * (\040 for a space) in place. NULL at the end of the line. */
static char *next_field(char **s)
{
	char *p = *s;
	while (*p == ' ')
		p++;
	if (*p == '\0')
		return NULL;
	char *start = p, *out = p;
	while (*p && *p != ' ') {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*out++ = (char)((p[1] - '0') << 6 | (p[2] - '0') << 3 | (p[3] - '0'));
			p += 4;
		} else {
			*out++ = *p++;
		}
	}
	if (*p)
		p++;
	*out = '\0';
	*s = p;
	return start;
}

static int parse_mount(char *line, struct mount *m)
{
	char *id = next_field(&line), *parent = next_field(&line), *dev = next_field(&line);
	m->root = next_field(&line);
	m->point = next_field(&line);
	unsigned maj, min;
	if (!id || !parent || !dev || !m->point || sscanf(dev, "%u:%u", &maj, &min) != 2)
		return -EINVAL;
	m->id = atoi(id);
	m->dev = makedev(maj, min);
	const char *f;
	while ((f = next_field(&line)) && strcmp(f, "-") != 0)
		;
	m->type = f ? next_field(&line) : NULL;
	return m->type ? 0 : -EINVAL;
}

/* `a` is `b` or a directory above it. */
static int is_path_prefix(const char *a, const char *b)
{
	size_t n = strlen(a);
	if (n == 1 && a[0] == '/')
		return 1;
	return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

/* mlocate's rule: a mount is a bind mount when another mount of the same device shows a
 * directory above its root, or the same root and was mounted first. It tells a bind
 * mount from a btrfs subvolume or a container's volume (whose roots are not "/" either,
 * but have no other mount of the same device showing more). */
static int is_bind(const struct mount *ms, size_t n, size_t k)
{
	for (size_t i = 0; i < n; i++) {
		if (i == k || ms[i].dev != ms[k].dev)
			continue;
		if (strcmp(ms[i].root, ms[k].root) == 0 ? ms[i].id < ms[k].id
							: is_path_prefix(ms[i].root, ms[k].root))
			return 1;
	}
	return 0;
}

static int is_type_pruned(const struct walk_prune *prune, const char *type)
{
	for (const char *const *t = prune->fs_types; t && *t; t++) {
		if (strcasecmp(*t, type) == 0)
			return 1;
	}
	return 0;
}

static char *read_all(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t len = 0, cap = 16384;
	char *buf = malloc(cap);
	while (buf) {
		if (len + 1 == cap) {
			char *grown = realloc(buf, cap * 2);
			if (!grown) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = grown;
			cap *= 2;
		}
		ssize_t got = read(fd, buf + len, cap - 1 - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			buf[len] = '\0';
			break;
		}
		len += (size_t)got;
	}
	close(fd);
	return buf;
}

static int add_mounts(struct walk_prune_table *t, const struct walk_prune *prune, char *text)
{
	size_t n = 0, cap = 0;
	struct mount *ms = NULL;
	int rc = 0;
	for (char *line = text, *nl; line && *line; line = nl) {
		nl = strchr(line, '\n');
		if (nl)
			*nl++ = '\0';
		struct mount m;
		if (parse_mount(line, &m) < 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			struct mount *grown = realloc(ms, cap * sizeof(*ms));
			if (!grown) {
				rc = -ENOMEM;
				goto out;
			}
			ms = grown;
		}
		ms[n++] = m;
	}
	t->devs = calloc(n + 1, sizeof(*t->devs));
	if (!t->devs) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		/* Only the topmost mount at a point is visible: later lines are on top. */
		int is_hidden = 0;
		for (size_t i = k + 1; i < n && !is_hidden; i++)
			is_hidden = strcmp(ms[i].point, ms[k].point) == 0;
		if (is_hidden)
			continue;
		int is_type = is_type_pruned(prune, ms[k].type);
		if (is_type && !walk_prune_table_has_dev(t, ms[k].dev))
			t->devs[t->n_devs++] = ms[k].dev;
		if (is_type || (prune->is_bind_mounts_pruned && is_bind(ms, n, k))) {
			rc = paths_add(t, ms[k].point, strlen(ms[k].point));
			if (rc < 0)
				goto out;
		}
	}
out:
	free(ms);
	return rc;
}

int walk_prune_table_init(struct walk_prune_table *t, const struct walk_prune *prune,
			  const char *mountinfo_path)
{
	memset(t, 0, sizeof(*t));
	t->names = prune->names;
	int rc = 0;
	for (const char *const *p = prune->paths; p && *p && rc == 0; p++) {
		size_t len = strlen(*p);
		while (len > 1 && (*p)[len - 1] == '/')
			len--;
		rc = paths_add(t, *p, len);
	}
	char *text = rc == 0 && mountinfo_path ? read_all(mountinfo_path) : NULL;
	if (text) {
		rc = add_mounts(t, prune, text);
		free(text);
	}
	if (rc < 0)
		walk_prune_table_release(t);
	return rc;
}

void walk_prune_table_release(struct walk_prune_table *t)
{
	for (size_t i = 0; i < t->paths_cap; i++)
		free(t->paths[i]);
	free(t->paths);
	free(t->devs);
	memset(t, 0, sizeof(*t));
}
