/*
 * fixed.c - the FastCGI baseline of bench/run: a libfcgi responder that
 * answers every request with fixed bytes read at start-up, so that what
 * it costs is FastCGI itself (nginx, the unix socket, libfcgi) and nothing
 * else. Built by bench/run with cc against libfcgi; not installed.
 *
 *   spawn-fcgi -s SOCK -F 2 -- fixed NAME=FILE...
 *
 * A request whose path (PATH_INFO) ends in /NAME gets the bytes of FILE;
 * any other gets the first. A request body is read and dropped, as a
 * responder that parses it would read it.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <fcgiapp.h>

struct answer {
	const char *name;
	char *head;
	int head_len;
	char *body;
	int body_len;
};

static struct answer *answers;
static int n_answers;

static void
load(struct answer *a, char *arg)
{
	char *eq = strchr(arg, '='), *text = NULL;
	size_t len = 0, n;
	char chunk[65536];
	FILE *f;

	if (eq == NULL) {
		fprintf(stderr, "fixed: %s: expected NAME=FILE\n", arg);
		exit(64);
	}
	*eq = '\0';
	a->name = arg;
	if ((f = fopen(eq + 1, "rb")) == NULL) {
		perror(eq + 1);
		exit(66);
	}
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
		if ((text = realloc(text, len + n)) == NULL)
			abort();
		memcpy(text + len, chunk, n);
		len += n;
	}
	fclose(f);
	a->body = text;
	a->body_len = (int)len;
	a->head = malloc(160);
	a->head_len = snprintf(a->head, 160, "Status: 200 OK\r\n"
	    "Content-Type: application/json\r\nContent-Length: %lu\r\n\r\n",
	    (unsigned long)len);
}

static const struct answer *
choose(const char *path)
{
	const char *last = path != NULL ? strrchr(path, '/') : NULL;
	int i;

	for (i = 0; last != NULL && i < n_answers; i++)
		if (strcmp(last + 1, answers[i].name) == 0)
			return &answers[i];
	return &answers[0];
}

int
main(int argc, char **argv)
{
	FCGX_Request r;
	char sink[8192];
	int i;

	if (argc < 2) {
		fprintf(stderr, "usage: fixed NAME=FILE...\n");
		return 64;
	}
	n_answers = argc - 1;
	answers = calloc((size_t)n_answers, sizeof *answers);
	for (i = 0; i < n_answers; i++)
		load(&answers[i], argv[i + 1]);
	signal(SIGPIPE, SIG_IGN);
	if (FCGX_Init() != 0 || FCGX_IsCGI()) {
		fprintf(stderr, "fixed: run me under spawn-fcgi\n");
		return 1;
	}
	FCGX_InitRequest(&r, 0, 0);
	while (FCGX_Accept_r(&r) >= 0) {
		const struct answer *a = choose(FCGX_GetParam("PATH_INFO",
		    r.envp));

		while (FCGX_GetStr(sink, sizeof sink, r.in) > 0)
			;
		FCGX_PutStr(a->head, a->head_len, r.out);
		FCGX_PutStr(a->body, a->body_len, r.out);
		FCGX_Finish_r(&r);
	}
	return 0;
}
