/* frecency.c: the picks table. Small by design (FRECENCY_MAX_PATHS), so a linear scan
 * is cheaper than keeping a hash table in step; saved whole on every pick, since picks
 * come at human speed. File format: one line per path, "<weight> <unix time> <base64>". */
#include "frecency.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "protocol.h"

static double decayed(double weight, time_t at, time_t now)
{
	double age = now > at ? (double)(now - at) : 0.0;
	return weight * exp2(-age / FRECENCY_HALF_LIFE_S);
}

static struct frecency_item *find(struct frecency *f, const char *path, size_t len)
{
	for (size_t k = 0; k < f->n; k++)
		if (f->items[k].len == len && memcmp(f->items[k].path, path, len) == 0)
			return &f->items[k];
	return NULL;
}

static int add_item(struct frecency *f, const char *path, size_t len, double weight, time_t at)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		struct frecency_item *p = realloc(f->items, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		f->items = p;
		f->cap = cap;
	}
	char *copy = malloc(len + 1);
	if (!copy)
		return -ENOMEM;
	memcpy(copy, path, len);
	copy[len] = '\0';
	f->items[f->n++] = (struct frecency_item){copy, len, weight, at};
	return 0;
}

static void load(struct frecency *f, FILE *in)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, in)) > 0) {
		double weight;
		long long at;
		int off = 0;
		if (sscanf(line, "%lf %lld %n", &weight, &at, &off) != 2 || off == 0 ||
		    !(weight > 0) || weight > 1e9)
			continue;
		size_t b64_len = (size_t)n - (size_t)off;
		while (b64_len &&
		       (line[off + b64_len - 1] == '\n' || line[off + b64_len - 1] == '\r'))
			b64_len--;
		char *path;
		size_t len;
		if (protocol_base64_decode(line + off, b64_len, &path, &len) != 0)
			continue;
		if (len && path[0] == '/' && !memchr(path, '\0', len) && !find(f, path, len) &&
		    f->n < FRECENCY_MAX_PATHS)
			add_item(f, path, len, weight, (time_t)at);
		free(path);
	}
	free(line);
}

int frecency_init(struct frecency *f, const char *file)
{
	memset(f, 0, sizeof(*f));
	pthread_mutex_init(&f->lock, NULL);
	if (!file)
		return 0;
	f->file = strdup(file);
	if (!f->file)
		return -ENOMEM;
	FILE *in = fopen(file, "re");
	if (in) {
		load(f, in);
		fclose(in);
	}
	return 0;
}

void frecency_release(struct frecency *f)
{
	for (size_t k = 0; k < f->n; k++)
		free(f->items[k].path);
	free(f->items);
	free(f->file);
	pthread_mutex_destroy(&f->lock);
	memset(f, 0, sizeof(*f));
}

/* Write `len` bytes to a temporary file beside `file`, then rename it over. */
static int write_file(const char *file, const char *data, size_t len)
{
	char tmp[4096];
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.%d", file, (int)getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	int rc = 0;
	for (size_t at = 0; at < len && rc == 0;) {
		ssize_t n = write(fd, data + at, len - at);
		if (n > 0)
			at += (size_t)n;
		else if (n < 0 && errno != EINTR)
			rc = -errno;
	}
	if (rc == 0 && fsync(fd) != 0)
		rc = -errno;
	if (close(fd) != 0 && rc == 0)
		rc = -errno;
	if (rc == 0 && rename(tmp, file) != 0)
		rc = -errno;
	if (rc != 0)
		unlink(tmp);
	return rc;
}

/* The table as the file holds it, into a new buffer. */
static char *format_locked(struct frecency *f, size_t *len)
{
	char *text = NULL;
	FILE *out = open_memstream(&text, len);
	if (!out)
		return NULL;
	int is_ok = 1;
	for (size_t k = 0; k < f->n && is_ok; k++) {
		char *b64 = protocol_base64_encode(f->items[k].path, f->items[k].len);
		is_ok = b64 && fprintf(out, "%.6f %lld %s\n", f->items[k].weight,
				       (long long)f->items[k].at, b64) > 0;
		free(b64);
	}
	if (fclose(out) != 0 || !is_ok) {
		free(text);
		return NULL;
	}
	return text;
}

int frecency_save(struct frecency *f)
{
	if (!f->file || !atomic_exchange(&f->is_dirty, 0))
		return 0;
	size_t len = 0;
	pthread_mutex_lock(&f->lock);
	char *text = format_locked(f, &len);
	pthread_mutex_unlock(&f->lock);
	int rc = text ? write_file(f->file, text, len) : -ENOMEM;
	free(text);
	if (rc < 0)
		atomic_store(&f->is_dirty, 1);
	return rc;
}

/* Forget the lightest item, to make room. */
static void evict_one(struct frecency *f, time_t now)
{
	size_t lightest = 0;
	for (size_t k = 1; k < f->n; k++)
		if (decayed(f->items[k].weight, f->items[k].at, now) <
		    decayed(f->items[lightest].weight, f->items[lightest].at, now))
			lightest = k;
	free(f->items[lightest].path);
	f->items[lightest] = f->items[--f->n];
}

int frecency_pick(struct frecency *f, const char *path, size_t len, time_t now)
{
	pthread_mutex_lock(&f->lock);
	int rc = 0;
	struct frecency_item *it = find(f, path, len);
	if (it) {
		it->weight = decayed(it->weight, it->at, now) + 1.0;
		it->at = now;
	} else {
		if (f->n >= FRECENCY_MAX_PATHS)
			evict_one(f, now);
		rc = add_item(f, path, len, 1.0, now);
	}
	pthread_mutex_unlock(&f->lock);
	if (rc == 0)
		atomic_store(&f->is_dirty, 1);
	return rc;
}

int32_t frecency_bonus(struct frecency *f, const char *path, size_t len, time_t now)
{
	pthread_mutex_lock(&f->lock);
	struct frecency_item *it = find(f, path, len);
	double w = it ? decayed(it->weight, it->at, now) : 0.0;
	pthread_mutex_unlock(&f->lock);
	/* log2 keeps a path picked a hundred times from burying every other match. */
	return w > 0 ? (int32_t)lround(FRECENCY_BONUS_UNIT * log2(1.0 + w)) : 0;
}

size_t frecency_count(struct frecency *f)
{
	pthread_mutex_lock(&f->lock);
	size_t n = f->n;
	pthread_mutex_unlock(&f->lock);
	return n;
}
