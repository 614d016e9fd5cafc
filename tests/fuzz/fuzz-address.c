/* fuzz-address.c: the mail address and host name validators on any text
 *
 * Whatever they accept must be safe to put in a command (no control character or line break,
 * a space only inside a quoted local part), within RFC 5321's limits, and normalising it again must not change it.
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include <string.h>

#include "relay-address.h"
#include "relay-hostname.h"
#include "fuzz.h"

static void
check_wire_safe (const char *text,
                 gsize       max,
                 gboolean    space_allowed)
{
  g_assert (strlen (text) <= max);
  for (const guchar *p = (const guchar *) text; *p; p++)
    g_assert ((*p > 0x20 || (*p == ' ' && space_allowed)) && *p != 0x7f);
}

int
LLVMFuzzerTestOneInput (const guint8 *data,
                        size_t        size)
{
  /* stops at the first NUL, as a C string from a text field would */
  g_autofree char *input = g_strndup ((const char *) data, size);
  g_autofree char *address = relay_address_normalize (input, NULL);
  gboolean is_ip = FALSE;
  g_autofree char *host = relay_hostname_normalize (input, &is_ip, NULL);
  g_autofree char *described = relay_hostname_describe (input);
  g_autofree char *warning = relay_hostname_check_mixed_scripts (input);

  if (address != NULL)
    {
      g_autofree char *again = relay_address_normalize (address, NULL);
      const char *at = strrchr (address, '@');

      /* the path with its angle brackets fits RFC 5321's 256 octets */
      check_wire_safe (address, 254, TRUE);   /* in a quoted local part */
      g_assert (at != NULL && at - address <= 64);
      g_assert (again != NULL && strcmp (again, address) == 0);
    }

  if (host != NULL)
    {
      gboolean again_ip = FALSE;
      g_autofree char *again = relay_hostname_normalize (host, &again_ip, NULL);

      check_wire_safe (host, 253, FALSE);
      g_assert (again != NULL && strcmp (again, host) == 0 && again_ip == is_ip);
      g_assert (is_ip || relay_hostname_is_ldh_name (host));
      g_assert (described != NULL && g_utf8_validate (described, -1, NULL));
    }
  else
    {
      g_assert (described == NULL);
      g_assert (warning == NULL);
    }
  if (warning != NULL)
    g_assert (g_utf8_validate (warning, -1, NULL));

  (void) relay_hostname_is_ldh_name (input);
  return 0;
}
