// A matrix object built from every aligned and zeroing allocation function, leaked whole
// (libstdc++, glibc, x86-64):
//   Matrix                         new                 40 B  direct   (make_matrix)
//   row table, 4 pointers          calloc              32 B  indirect
//   4 rows of 10 doubles           posix_memalign(64)  4 x 80 B  indirect (alloc_row)
//   scratch, 12 doubles            aligned_alloc(32)   96 B  indirect
//   5 Cells with a destructor      new[]               5 x 16 + 8 (array cookie) = 88 B
//                                                       indirect; the Matrix holds a
//                                                       pointer 8 bytes into the block
// and a cache-line aligned packet, new with align_val_t 64: 64 B direct (make_packet).
// Expected: direct 104 B in 2 blocks, indirect 536 B in 7 blocks.
#include <cstdlib>
#include <new>

#include "leakprog.h"

struct Cell {
  ~Cell() { value = 0; }
  double value = 1;
  long flags = 0;
};

struct Matrix {
  size_t rows, cols;
  double** row;
  double* scratch;
  Cell* cells;
};

struct alignas(64) Packet {
  char bytes[64];
};

LEAK_FN double* alloc_row(size_t cols) {
  void* p = nullptr;
  if (posix_memalign(&p, 64, cols * sizeof(double)) != 0) return nullptr;  // @alloc_row
  return static_cast<double*>(p);
}

LEAK_FN Matrix* make_matrix(size_t rows, size_t cols) {
  auto* m = new Matrix{rows, cols, nullptr, nullptr, nullptr};  // @make_matrix
  m->row = static_cast<double**>(calloc(rows, sizeof(double*)));  // @row_table
  for (size_t i = 0; i < rows; i++) m->row[i] = alloc_row(cols);
  m->scratch = static_cast<double*>(aligned_alloc(32, 12 * sizeof(double)));  // @scratch
  m->cells = new Cell[5];  // @cells
  return m;
}

LEAK_FN Packet* make_packet() { return new Packet(); }  // @packet

int main() {
  Matrix* m = make_matrix(4, 10);
  keep_alloc(m);
  keep_alloc(make_packet());
  scrub_stack();
  return 0;
}
