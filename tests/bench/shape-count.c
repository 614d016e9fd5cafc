/* shape-count.c: an LD_PRELOAD shim for window-bench.py --trace that counts the text shaping
 * a program does before its first frame: calls to hb_shape_full() (Pango shapes every run of
 * text through it) and the characters they shape. A count, not a time: it says how much text
 * work measuring the window takes, the same on every machine.
 *
 * GTK is opened by SMTP Relay with g_module_open (RTLD_LOCAL), so HarfBuzz is not in the
 * global scope and RTLD_NEXT cannot find it: the real functions are looked up in the loaded
 * library itself. The counts are printed when the program exits through _exit(), as the
 * first-frame hook of src/relay-bench.c does, or through exit().
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

typedef int (*ShapeFunc) (void *font, void *buffer, const void *features, unsigned int n_features,
                          const char * const *shapers);
typedef unsigned int (*LengthFunc) (void *buffer);
typedef void (*ExitFunc) (int status) __attribute__ ((noreturn));

int hb_shape_full (void *font, void *buffer, const void *features, unsigned int n_features,
                   const char * const *shapers);

static unsigned long n_calls;
static unsigned long n_chars;

static void *
harfbuzz (void)
{
  static void *handle;

  if (handle == NULL)
    handle = dlopen ("libharfbuzz.so.0", RTLD_LAZY | RTLD_NOLOAD);
  if (handle == NULL)
    {
      fprintf (stderr, "shape-count: HarfBuzz is not loaded\n");
      abort ();
    }
  return handle;
}

int
hb_shape_full (void               *font,
               void               *buffer,
               const void         *features,
               unsigned int        n_features,
               const char * const *shapers)
{
  static ShapeFunc real_shape;
  static LengthFunc get_length;

  if (real_shape == NULL)
    {
      real_shape = (ShapeFunc) dlsym (harfbuzz (), "hb_shape_full");
      get_length = (LengthFunc) dlsym (harfbuzz (), "hb_buffer_get_length");
    }
  n_calls++;
  n_chars += get_length (buffer);
  return real_shape (font, buffer, features, n_features, shapers);
}

static void
report (void)
{
  fprintf (stderr, "shaping calls=%lu chars=%lu\n", n_calls, n_chars);
}

__attribute__ ((constructor)) static void
init (void)
{
  atexit (report);
}

void
_exit (int status)
{
  static ExitFunc real_exit;

  if (real_exit == NULL)
    real_exit = (ExitFunc) dlsym (RTLD_NEXT, "_exit");
  report ();
  real_exit (status);
}
