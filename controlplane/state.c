#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "state.h"

static int
state_path(const char *dir, const char *name, char *buf, size_t len)
{
	int n;

	n = snprintf(buf, len, "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= len)
		return -1;
	return 0;
}

int
state_dir_ensure(const char *dir, char *err, size_t errlen)
{
	char	 path[PATH_MAX];
	char	*p, c;
	size_t	 len;

	len = strlen(dir);
	if (len == 0 || len >= sizeof(path)) {
		snprintf(err, errlen, "state_dir: bad path");
		return -1;
	}
	memcpy(path, dir, len + 1);
	/* mkdir -p: each missing parent, then the directory itself */
	for (p = path + 1; ; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		c = *p;
		*p = '\0';
		if (mkdir(path, 0700) == -1 && errno != EEXIST) {
			snprintf(err, errlen, "state_dir: mkdir %s: %s", path,
			    strerror(errno));
			return -1;
		}
		*p = c;
		if (c == '\0')
			break;
	}
	return 0;
}

int
state_load(const char *dir, json_t **out, char *err, size_t errlen)
{
	char		 path[PATH_MAX];
	json_error_t	 jerr;
	json_t		*root;
	struct stat	 st;

	*out = NULL;
	if (state_path(dir, STATE_FILE_NAME, path, sizeof(path)) == -1) {
		snprintf(err, errlen, "state_dir: path too long");
		return -1;
	}
	if (stat(path, &st) == -1) {
		if (errno == ENOENT) {
			/* first start: nothing changed live yet */
			*out = json_object();
			return *out != NULL ? 0 : -1;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (st.st_size > (off_t)STATE_FILE_MAX) {
		snprintf(err, errlen, "%s: larger than %u bytes", path,
		    STATE_FILE_MAX);
		return -1;
	}
	root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		snprintf(err, errlen, "%s:%d: %s", path, jerr.line, jerr.text);
		return -1;
	}
	if (!json_is_object(root)) {
		snprintf(err, errlen, "%s: not a JSON object", path);
		json_decref(root);
		return -1;
	}
	*out = root;
	return 0;
}

static int
write_all(int fd, const char *buf, size_t len)
{
	ssize_t n;

	while (len > 0) {
		n = write(fd, buf, len);
		if (n == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int
state_save(const char *dir, const json_t *overlay, char *err, size_t errlen)
{
	char	 path[PATH_MAX], tmp[PATH_MAX];
	char	*text = NULL;
	int	 fd = -1, dfd = -1;
	char	 name[64];

	snprintf(name, sizeof(name), "%s.tmp.%ld", STATE_FILE_NAME,
	    (long)getpid());
	if (state_path(dir, STATE_FILE_NAME, path, sizeof(path)) == -1 ||
	    state_path(dir, name, tmp, sizeof(tmp)) == -1) {
		snprintf(err, errlen, "state_dir: path too long");
		return -1;
	}
	text = json_dumps(overlay, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (text == NULL) {
		snprintf(err, errlen, "state: cannot encode");
		goto err;
	}
	/* 0600: pool passwords edited live end up in here */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto err;
	}
	if (write_all(fd, text, strlen(text)) == -1 ||
	    write_all(fd, "\n", 1) == -1) {
		snprintf(err, errlen, "%s: write: %s", tmp, strerror(errno));
		goto err;
	}
	/* the data must be on disk before the rename makes it the state */
	if (fsync(fd) == -1) {
		snprintf(err, errlen, "%s: fsync: %s", tmp, strerror(errno));
		goto err;
	}
	if (close(fd) == -1) {
		fd = -1;
		snprintf(err, errlen, "%s: close: %s", tmp, strerror(errno));
		goto err;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		snprintf(err, errlen, "%s: rename: %s", path, strerror(errno));
		goto err;
	}
	/* and the rename itself must survive a power cut */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd == -1 || fsync(dfd) == -1) {
		snprintf(err, errlen, "%s: fsync: %s", dir, strerror(errno));
		if (dfd != -1)
			close(dfd);
		free(text);
		return -1;
	}
	close(dfd);
	free(text);
	return 0;
err:
	if (fd != -1)
		close(fd);
	unlink(tmp);
	free(text);
	return -1;
}

json_t *
state_config_part(const json_t *overlay)
{
	static const char *const keys[] = { "weights", "pools", "scheduler" };
	json_t	*part, *v;
	size_t	 i;

	if ((part = json_object()) == NULL)
		return NULL;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		v = json_object_get(overlay, keys[i]);
		if (v != NULL && json_object_set(part, keys[i], v) == -1) {
			json_decref(part);
			return NULL;
		}
	}
	return part;
}
