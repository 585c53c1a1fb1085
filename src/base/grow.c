/*
 * grow.c - the checked grow-by-doubling array (base.h).
 */
#include "base/base.h"

#include <stdint.h>
#include <stdlib.h>

int av_base_grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    if (elem == 0)
        return -1;
    size_t max = SIZE_MAX / elem;
    if (need > max)
        return -1;
    size_t nc = *cap < 16 ? 16 : *cap;
    while (nc < need)
        nc = nc > max / 2 ? max : nc * 2;
    void *q = realloc(*p, nc * elem);
    if (!q)
        return -1;
    *p = q;
    *cap = nc;
    return 0;
}
