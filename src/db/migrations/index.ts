import { sql as usersAndMarket } from "./001_users_and_market.js";
import { sql as signalsAndOutbox } from "./002_signals_and_outbox.js";
import { sql as ordersAndAudit } from "./003_orders_and_audit.js";
import { sql as rulesVersionAndMeta } from "./004_rules_version_and_meta.js";
import { sql as userSettings } from "./005_user_settings.js";
import { sql as orderTracking } from "./006_order_tracking.js";
import { sql as appSecrets } from "./007_app_secrets.js";
import { sql as candleLayout } from "./008_candle_layout.js";
import { sql as watchlistsVersion } from "./009_watchlists_version.js";
import { sql as pendingByChat } from "./010_pending_by_chat.js";
import { sql as trading } from "./011_trading.js";
import { sql as namedWatchlists } from "./012_named_watchlists.js";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Forward-only: append new migrations, never edit or reorder applied ones. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "users_and_market", sql: usersAndMarket },
  { version: 2, name: "signals_and_outbox", sql: signalsAndOutbox },
  { version: 3, name: "orders_and_audit", sql: ordersAndAudit },
  { version: 4, name: "rules_version_and_meta", sql: rulesVersionAndMeta },
  { version: 5, name: "user_settings", sql: userSettings },
  { version: 6, name: "order_tracking", sql: orderTracking },
  { version: 7, name: "app_secrets", sql: appSecrets },
  { version: 8, name: "candle_layout", sql: candleLayout },
  { version: 9, name: "watchlists_version", sql: watchlistsVersion },
  { version: 10, name: "pending_by_chat", sql: pendingByChat },
  { version: 11, name: "trading", sql: trading },
  { version: 12, name: "named_watchlists", sql: namedWatchlists },
];
