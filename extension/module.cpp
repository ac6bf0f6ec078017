// Module entry: the magic block and load-time initialisation.
#include "postgres_headers.hpp"
#include "keyring.hpp"

extern "C" {
PG_MODULE_MAGIC;

PGDLLEXPORT void _PG_init(void);
void crosswalk_init_single_sign_on(void);  // sso.cpp
void _PG_init(void) {
  crosswalk::pg::InitEncryption();
  crosswalk_init_single_sign_on();
}
}
