/* token.h - `dispatch token`: mint a bearer token. */
#ifndef DISPATCH_TOKEN_H
#define DISPATCH_TOKEN_H

/* argv[0] is "token"; prints the token on stdout. An exit status. */
int dispatch_token(int argc, char **argv);

#endif
