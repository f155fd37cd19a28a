/* Figures of the "many" program, shared with the test. N_SITES comes from meson. */
#pragma once

#define MILLION_COUNT 1000000
#define MILLION_BYTES 24
/* Bytes leaked by generated site i: 32..128 in steps of 16, so sizes repeat but every
   site is its own function. */
#define SITE_BYTES(i) (32 + ((i) % 7) * 16)
