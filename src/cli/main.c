/* placeholder until the CLI lands */
#include <stdio.h>
int main(void) { fputs("uvfs: not built yet\n", stderr); return 2; }
