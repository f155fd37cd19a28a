/* Two lost cycles, the first pointing into the second at a node other than the one
   allocated first: the second is part of what the first leaks, not a leak of its own.
   - a ring of 2 sessions (32 B each), allocated first;
   - a ring of 3 connections (48 B each), the second of which points at the second session.
   Both rings' only pointers are dropped.
   Expected (as valgrind): direct 48 B in 1 block (a connection); indirect 160 B in 4 blocks
   (2 connections, 2 sessions). All malloc. */
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct session {
  struct session* next;
  char id[24];
};

struct conn {
  struct conn* next;
  struct session* session;
  char addr[32];
};

LEAK_FN struct session* new_session(void) {
  struct session* s = malloc(sizeof *s); /* @session */
  memset(s, 's', sizeof *s);
  return s;
}

LEAK_FN struct conn* new_conn(void) {
  struct conn* c = malloc(sizeof *c); /* @conn */
  memset(c, 'c', sizeof *c);
  return c;
}

LEAK_FN void open_and_lose(void) {
  struct session* s0 = new_session();
  struct session* s1 = new_session();
  s0->next = s1;
  s1->next = s0;
  struct conn* c0 = new_conn();
  struct conn* c1 = new_conn();
  struct conn* c2 = new_conn();
  c0->next = c1;
  c1->next = c2;
  c2->next = c0;
  c1->session = s1;
  keep_alloc(c0);
}

int main(void) {
  open_and_lose();
  scrub_stack();
  return 0;
}
