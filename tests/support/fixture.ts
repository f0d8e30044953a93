import type { AppOptions, RunningApp } from "../../src/app.js";
import type { Config } from "../../src/config/load.js";
import type { NewRule } from "../../src/db/repositories/alert-rules.js";
import type { Channels, NewUser, User } from "../../src/db/repositories/users.js";
import type { QueueName } from "../../src/queue/queues.js";
import type { AlertRule } from "../../src/signals/rules.js";
import { FakeUpstox, type FakeUpstoxOptions } from "../fakes/upstox/index.js";
import { startTestApp, testConfig, upstoxEnv } from "./app.js";
import { deletePrefix, removeDir, tempDir, uniquePrefix } from "./env.js";
import { takeOverScheduler } from "./queues.js";
import { startSmtpCapture, type SmtpCapture } from "./smtp.js";

/** What a fixture has started before the app itself starts (see `beforeStart`). */
export interface FixtureParts {
  readonly config: Config;
  readonly dataDir: string;
  readonly prefix: string;
  /** Throws when the fixture started no FakeUpstox. */
  readonly fake: FakeUpstox;
  /** Throws when the fixture started no SMTP capture. */
  readonly smtp: SmtpCapture;
}

export interface AppFixtureOptions extends Partial<AppOptions> {
  /** Settings over testConfig's (and over the fake's and the SMTP capture's); undefined unsets one. */
  env?: Record<string, string | undefined>;
  /**
   * Starts a FakeUpstox on the app's clock (`clock`, when given) and points the app at it
   * (upstoxEnv); an object is passed to FakeUpstox.start.
   */
  upstox?: true | Omit<FakeUpstoxOptions, "now">;
  /** Default true: a real SMTP server in this process, the app's SMTP_URL (env may still set another). */
  smtp?: boolean;
  /** Queues whose job schedulers the test takes over once the app is up (and after each restart). */
  takeOver?: readonly QueueName[];
  /** Runs after the fake, the SMTP capture and the config exist, before the app starts. */
  beforeStart?: (parts: FixtureParts) => void | Promise<void>;
}

export interface TraderOptions {
  /** Default a random one; null for a user without Telegram. */
  telegramId?: number | null;
  displayName?: string;
  /** With an email the user is verified and, unless `channels` says otherwise, wants email only. */
  email?: string;
  channels?: Channels;
  /** Added to the user's watchlist, in order. */
  watch?: readonly string[];
  /** Created for the user, in order, after the watchlist. */
  rules?: ReadonlyArray<Omit<NewRule, "userId">>;
}

export interface LinkTraderOptions extends TraderOptions {
  /** The Upstox user id the token is issued for and saved with; default `UPX<user id>`. */
  upstoxUserId?: string;
  /** A token the fake already issued; default a new one for `upstoxUserId`. */
  token?: string;
  /** When the login happened (its expiry follows from it); default the app's clock now. */
  issuedAt?: number;
}

export interface Trader {
  user: User;
  rules: AlertRule[];
}

export interface LinkedTrader extends Trader {
  token: string;
  upstoxUserId: string;
}

export interface AppFixture extends FixtureParts {
  /** The running app (a new one after `restart`). */
  readonly app: RunningApp;
  readonly services: RunningApp["services"];
  /** `http://127.0.0.1:<port>` of the app's HTTP server. */
  readonly baseUrl: string;
  /** A user, their watchlist and rules, written straight to the app's repositories. */
  addTrader(opts?: TraderOptions): Trader;
  /** addTrader, then an Upstox login: a token issued by the fake and saved in the app's token store. */
  linkTrader(opts?: LinkTraderOptions): LinkedTrader;
  /**
   * Stops the app and starts it again on the same config, data dir and prefix (and takes
   * over the same schedulers); `opts` replace start options of the first start.
   */
  restart(opts?: Partial<AppOptions>): Promise<RunningApp>;
  /** Stops the app, the SMTP capture and the fake, deletes the Redis prefix and the data dir. Idempotent. */
  close(): Promise<void>;
}

/**
 * The app started in this process the way app-level tests need it: its own Redis prefix and
 * temp data dir, optionally the fake Upstox on the app's clock and a real SMTP server, with
 * the named schedulers taken over so the test alone runs those jobs. `close()` undoes all
 * of it, whatever had started.
 */
export async function startAppFixture(opts: AppFixtureOptions = {}): Promise<AppFixture> {
  const { env, upstox, smtp: withSmtp = true, takeOver = [], beforeStart, ...appOptions } = opts;
  const clock = appOptions.clock ?? Date.now;
  const dataDir = tempDir();
  const prefix = uniquePrefix();
  let fake: FakeUpstox | undefined;
  let smtp: SmtpCapture | undefined;
  let app: RunningApp | undefined;
  let config: Config | undefined;
  let closing: Promise<void> | undefined;

  const close = () =>
    (closing ??= (async () => {
      const errors: unknown[] = [];
      const step = async (run: () => unknown) => {
        try {
          await run();
        } catch (err) {
          errors.push(err);
        }
      };
      await step(() => app?.stop());
      await step(() => smtp?.close());
      await step(() => fake?.close());
      await step(() => deletePrefix(prefix));
      await step(() => removeDir(dataDir));
      if (errors.length) throw errors[0];
    })());

  const required = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new Error(`this fixture has no ${what}`);
    return value;
  };
  const start = async (overrides: Partial<AppOptions> = {}) => {
    app = await startTestApp(config!, { ...appOptions, ...overrides });
    for (const q of takeOver) await takeOverScheduler(app.services.queues[q]);
    return app;
  };

  const createUser = (t: TraderOptions): User => {
    const newUser: NewUser = { telegramId: t.telegramId === undefined ? Math.floor(Math.random() * 1e9) : t.telegramId };
    if (t.displayName !== undefined) newUser.displayName = t.displayName;
    if (t.email !== undefined) Object.assign(newUser, { email: t.email, emailVerified: true, channels: t.channels ?? "email" });
    else if (t.channels !== undefined) newUser.channels = t.channels;
    return fixture.services.users.create(newUser);
  };
  const watchAndRules = (user: User, t: TraderOptions): AlertRule[] => {
    const s = fixture.services;
    for (const key of t.watch ?? []) s.watchlists.add(user.id, key);
    return (t.rules ?? []).map((r) => s.rules.create({ ...r, userId: user.id }));
  };

  const fixture: AppFixture = {
    get app() {
      return required(app, "app yet");
    },
    get services() {
      return fixture.app.services;
    },
    get baseUrl() {
      return `http://127.0.0.1:${fixture.app.httpPort}`;
    },
    get config() {
      return required(config, "config yet");
    },
    dataDir,
    prefix,
    get fake() {
      return required(fake, "FakeUpstox (start it with upstox: true)");
    },
    get smtp() {
      return required(smtp, "SMTP capture (smtp: false)");
    },
    addTrader(t = {}) {
      const user = createUser(t);
      return { user, rules: watchAndRules(user, t) };
    },
    linkTrader(t = {}) {
      const user = createUser(t);
      const upstoxUserId = t.upstoxUserId ?? `UPX${user.id}`;
      const token = t.token ?? fixture.fake.issueToken({ userId: upstoxUserId });
      required(fixture.services.upstox, "Upstox in the app").tokens.save(user.id, token, upstoxUserId, new Date(t.issuedAt ?? clock()));
      return { user, token, upstoxUserId, rules: watchAndRules(user, t) };
    },
    async restart(overrides) {
      await app?.stop();
      return start(overrides);
    },
    close,
  };

  try {
    if (upstox) fake = await FakeUpstox.start({ ...(upstox === true ? {} : upstox), ...(appOptions.clock ? { now: appOptions.clock } : {}) });
    if (withSmtp) smtp = await startSmtpCapture();
    config = testConfig({
      dataDir,
      prefix,
      env: { ...(fake ? upstoxEnv(fake) : {}), ...(smtp ? { SMTP_URL: smtp.url } : {}), ...env },
    });
    await beforeStart?.(fixture);
    await start();
  } catch (err) {
    await close().catch(() => {});
    throw err;
  }
  return fixture;
}
