/* Memory that is referenced only through pointers into its middle.
   - an intrusive list: a global list head links three items through their `link`
     member, 40 bytes into each item;
   - a length-prefixed string whose user pointer skips an 8-byte header holding the length;
   - a leaked parser that holds a cursor into the middle of its (otherwise lost) input.
   LeakSanitizer and mpshim count an interior pointer as a reference: the items and the
   string are reachable, the input is indirect. valgrind calls blocks reached only
   through interior pointers "possibly lost", except where a heuristic recognises the
   pointer (the length64 heuristic does for the string).
   Expected: direct 16 B in 1 block (malloc, parser_new); indirect 200 B in 1 block
   (malloc, read_input); reachable 3 x 56 B (item_new) and 8 + 24 B (lstr_new). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "leakprog.h"

struct list_head {
  struct list_head *next, *prev;
};

struct item {
  char name[32];
  int id;
  struct list_head link; /* offset 40 */
};

static struct list_head g_items = {&g_items, &g_items};
char* g_title; /* points past a length header */

LEAK_FN void item_new(int id) {
  struct item* it = malloc(sizeof *it); /* @item_new */
  memset(it->name, 'i', sizeof it->name);
  it->id = id;
  it->link.next = &g_items;
  it->link.prev = g_items.prev;
  g_items.prev->next = &it->link;
  g_items.prev = &it->link;
}

LEAK_FN char* lstr_new(const char* s) {
  size_t n = strlen(s);
  uint64_t* h = malloc(sizeof *h + n); /* @lstr_new: 8 + n, no NUL */
  *h = n;
  memcpy(h + 1, s, n);
  return (char*)(h + 1);
}

struct parser {
  const char* cursor;
  size_t line;
};

LEAK_FN char* read_input(size_t n) {
  char* in = malloc(n); /* @read_input */
  memset(in, 'x', n);
  return in;
}

LEAK_FN struct parser* parser_new(const char* in) {
  struct parser* p = malloc(sizeof *p); /* @parser_new */
  p->cursor = in;
  p->line = 1;
  return p;
}

LEAK_FN void parse(void) {
  struct parser* p = parser_new(read_input(200));
  p->cursor += 120; /* consumed the header */
  p->line += 4;
  keep_alloc(p);
}

int main(void) {
  for (int i = 0; i < 3; i++) item_new(i);
  g_title = lstr_new("a title of 24 characters");
  parse();
  scrub_stack();
  return 0;
}
