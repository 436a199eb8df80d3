/*
 * memfloor.c - the resident memory below which no responder can go: a
 * program linked with the libraries a responder loads (bench/run links it
 * with every library tickets.fcgi needs) that does once what a responder
 * does at start (a database command, an HTTP request, an HMAC), and
 * nothing else. bench/run --memory prints it beside the workers' figures,
 * so that what the responders add to it shows.
 *
 *   memfloor MONGODB_URI URL
 *
 * prints "start KIB ready KIB": VmRSS when main() begins (the libraries
 * loaded, relocated and initialised) and after that work.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <mongoc/mongoc.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

static long
rss_kib(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kib = -1;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			kib = atol(line + 6);
	fclose(f);
	return kib;
}

/* FerretDB's "Couldn't send endSessions" at exit is noise here. */
static void
quiet(mongoc_log_level_t level, const char *domain, const char *message,
    void *userdata)
{
	(void)level;
	(void)domain;
	(void)message;
	(void)userdata;
}

static size_t
discard(char *data, size_t size, size_t n, void *userdata)
{
	(void)data;
	(void)userdata;
	return size * n;
}

int
main(int argc, char **argv)
{
	long start = rss_kib();
	mongoc_client_t *client;
	bson_error_t error;
	bson_t *ping, reply;
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len;
	CURL *curl;
	int status = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: memfloor MONGODB_URI URL\n");
		return 64;
	}
	mongoc_log_set_handler(quiet, NULL);
	mongoc_init();
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if ((client = mongoc_client_new(argv[1])) == NULL) {
		fprintf(stderr, "memfloor: bad URI %s\n", argv[1]);
		return 1;
	}
	ping = BCON_NEW("ping", BCON_INT32(1));
	if (!mongoc_client_command_simple(client, "admin", ping, NULL, &reply,
	    &error)) {
		fprintf(stderr, "memfloor: ping: %s\n", error.message);
		status = 1;
	}
	bson_destroy(&reply);
	bson_destroy(ping);
	if ((curl = curl_easy_init()) == NULL ||
	    curl_easy_setopt(curl, CURLOPT_URL, argv[2]) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard) !=
	    CURLE_OK || curl_easy_perform(curl) != CURLE_OK) {
		fprintf(stderr, "memfloor: GET %s failed\n", argv[2]);
		status = 1;
	}
	if (HMAC(EVP_sha256(), "key", 3, (const unsigned char *)"data", 4,
	    mac, &mac_len) == NULL) {
		fprintf(stderr, "memfloor: HMAC failed\n");
		status = 1;
	}
	printf("start %ld ready %ld\n", start, rss_kib());
	curl_easy_cleanup(curl);
	mongoc_client_destroy(client);
	curl_global_cleanup();
	mongoc_cleanup();
	return status;
}
