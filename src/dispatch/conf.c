/*
 * conf.c - where the dispatch command finds its settings when the
 * command line and the environment do not give them: the per-user file
 * $XDG_CONFIG_HOME/vdispatch/vdispatch.env (else ~/.config/...), then the
 * system's SYSCONFDIR/vdispatch/vdispatch.env, the file the units read
 * (vdispatch.conf(5)); and where it keeps its copy of the registry,
 * $XDG_CACHE_HOME/vdispatch/registry-cache.json (else ~/.cache/...), so
 * that `dispatch list` and `dispatch call` work while the registry
 * database is down without any variable set.
 */
#include <ctype.h>
#include <pwd.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

/* The settings dispatch takes from the files; the others there are the
 * services' own. */
static const char *const keys[] = {
	"MONGODB_URI", "VD_ALLOWED_URLS", "VD_REGISTRY_CACHE", "VD_REGISTRY_DB",
};

static bool
wanted(const char *key)
{
	size_t i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strcmp(key, keys[i]) == 0)
			return true;
	return false;
}

/* Write $VAR/vdispatch/LEAF, or HOME/FALLBACK/vdispatch/LEAF, into BUF;
 * HOME is $HOME, else the user's home in the password database (a system
 * service has no $HOME). False when there is none. */
static bool
xdg_path(char *buf, size_t size, const char *var, const char *fallback,
    const char *leaf)
{
	const char *dir = getenv(var), *home = getenv("HOME");
	struct passwd *pw;
	int n;

	if ((home == NULL || *home == '\0') &&
	    (pw = getpwuid(getuid())) != NULL)
		home = pw->pw_dir;

	if (dir != NULL && *dir == '/')
		n = snprintf(buf, size, "%s/vdispatch/%s", dir, leaf);
	else if (home != NULL && *home != '\0')
		n = snprintf(buf, size, "%s/%s/vdispatch/%s", home, fallback,
		    leaf);
	else
		return false;
	return n > 0 && (size_t)n < size;
}

/* The file's KEY=VALUE lines (systemd's EnvironmentFile= format, quotes
 * around the value allowed) become variables not set already. */
static void
load_file(const char *path)
{
	char line[4096], *key, *value, *end;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return;
	while (fgets(line, sizeof line, f) != NULL) {
		key = line;
		while (isspace((unsigned char)*key))
			key++;
		if (*key == '#' || *key == ';' || (value = strchr(key, '=')) ==
		    NULL)
			continue;
		*value++ = '\0';
		end = value + strlen(value);
		while (end > value && isspace((unsigned char)end[-1]))
			*--end = '\0';
		if (end - value >= 2 && (*value == '"' || *value == '\'') &&
		    end[-1] == *value) {
			end[-1] = '\0';
			value++;
		}
		if (wanted(key))
			setenv(key, value, 0);
	}
	fclose(f);
}

void
dispatch_conf_load(void)
{
	char path[4096];

	if (xdg_path(path, sizeof path, "XDG_CONFIG_HOME", ".config",
	    "vdispatch.env"))
		load_file(path);
	load_file(VD_SYSCONFDIR "/vdispatch/vdispatch.env");
}

bool
dispatch_conf_cache_file(char *buf, size_t size)
{
	char *slash;

	if (!xdg_path(buf, size, "XDG_CACHE_HOME", ".cache",
	    "registry-cache.json"))
		return false;
	/* Its directory, and the one above (~/.cache), private. */
	slash = strrchr(buf, '/');
	*slash = '\0';
	*strrchr(buf, '/') = '\0';
	(void)mkdir(buf, 0700);
	buf[strlen(buf)] = '/';
	(void)mkdir(buf, 0700);
	*slash = '/';
	return true;
}
