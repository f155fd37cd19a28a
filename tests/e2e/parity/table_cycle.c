/* A lost table and its columns, libsmartcols' shape: each column points at the table's
   start, the table's list head points into the first column (a list head 32 bytes in) and
   the columns' list heads into the next one, the last back into the table. Every block is
   pointed at or into by another: which one is the direct leak is a choice, and valgrind
   names the table (its heap grows upwards, and the table is allocated first).
   Expected (as valgrind): direct 200 B in 1 block (calloc, new_table); indirect 3 x 48 B
   (new_column). */
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct list {
  struct list* next;
  struct list* prev;
};

struct table {
  char name[160];
  struct list columns; /* offset 160 */
  long ncolumns;
  char pad[16];
};

struct column {
  struct table* table; /* offset 0: the table's start */
  char title[24];
  struct list entry; /* offset 32 */
};

LEAK_FN struct table* new_table(void) {
  struct table* t = calloc(1, sizeof *t); /* @table */
  t->columns.next = t->columns.prev = &t->columns;
  return t;
}

LEAK_FN struct column* new_column(struct table* t, const char* title) {
  struct column* c = calloc(1, sizeof *c); /* @column */
  c->table = t;
  strncpy(c->title, title, sizeof c->title - 1);
  c->entry.prev = t->columns.prev;
  c->entry.next = &t->columns;
  t->columns.prev->next = &c->entry;
  t->columns.prev = &c->entry;
  ++t->ncolumns;
  return c;
}

LEAK_FN void build(void) {
  struct table* t = new_table();
  new_column(t, "name");
  new_column(t, "size");
  new_column(t, "owner");
}

int main(void) {
  build(); /* the table is lost with its columns */
  scrub_stack();
  return 0;
}
