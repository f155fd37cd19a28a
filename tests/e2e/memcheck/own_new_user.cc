// Passes blocks both ways between its new and delete (the shim's) and those of
// libe2e_own_new.so (malloc and free underneath): no mismatch in either direction.
#include <cstdio>

extern "C" {
int* own_new_make(int v);
char* own_new_make_array(int n);
void own_new_take(int* p);
void own_new_take_array(char* p);
}

int main() {
  for (int i = 0; i < 100; ++i) {
    int* a = own_new_make(i);  // the library's new, the program's delete
    if (*a != i) return 1;
    delete a;
    char* s = own_new_make_array(i + 1);
    delete[] s;
    own_new_take(new int(i));  // the program's new, the library's delete
    own_new_take_array(new char[i + 1]);
  }
  puts("survived");
  return 0;
}
