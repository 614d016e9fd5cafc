/* relay-settings-check.h: stored settings that GSettings ignores, found and said
 *
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct
{
  char *key;       /* the schema key */
  char *message;   /* translated: the stored value, what it must be, and what is used instead */
} RelayUnusableSetting;

void       relay_unusable_setting_free     (RelayUnusableSetting *unusable);

GPtrArray *relay_settings_find_unusable    (GSettings *settings);
void       relay_settings_replace_unusable (GSettings *settings,
                                            GPtrArray *unusable);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (RelayUnusableSetting, relay_unusable_setting_free)

G_END_DECLS
