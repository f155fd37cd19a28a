/* A program whose heap stays small: 20,000 rounds of 100 blocks of 32 bytes, allocated
 * then freed. Each allocation or free moves its live bytes (3,200 at most) by 1% or more,
 * the step at which the timeline takes a sample; the host side's steps are at least 64 KiB
 * (docs/profile-format.md), so the timeline holds the 10 ms samples, not one per event. */
#include <stdlib.h>

#define ROUNDS 20000
#define BLOCKS 100

__attribute__((noinline)) void* small_block(size_t n) { return malloc(n); }

int main(void) {
  void* volatile held[BLOCKS];
  for (int r = 0; r < ROUNDS; ++r) {
    for (int i = 0; i < BLOCKS; ++i) held[i] = small_block(32);
    for (int i = 0; i < BLOCKS; ++i) free(held[i]);
  }
  return 0;
}
