// What every chat or phone platform (Slack, Teams, Feishu/Lark, DingTalk, WeCom; email too) does
// for Assent, in the platform's own words: send a card to one person, change or delete it later,
// answer under it, and read what the platform sends back when someone clicks a button.
//
// An adapter knows its platform's formats, API calls and signatures, and nothing about messages:
// the chat platform (chat.platform.ts) decides who gets which card when, keeps the ledger of sent
// cards, and turns a verified click into an event through the same authorization as the API. Cards
// are described once, neutrally (CardContent), and each adapter renders them in its own markup,
// escaping the text it is given (titles come from requesters and may hold markup).
import type { ApiOutcome } from '../../outbound/call-api.ts';
import type { Clock } from '../../clock.ts';
import type { PlatformCapabilities } from '../platform.ts';
import type { CallbackProblem, Refused } from './callback-refusal.ts';

export type { ApiOutcome };

export type Tone = 'waiting' | 'approved' | 'rejected' | 'info' | 'warning';

/** A card, before any platform's markup. Every string is plain text. */
export interface CardContent {
  /** The message this card is about. */
  messageId: string;
  /** The headline: the message's title. */
  title: string;
  /** Label and value pairs under the title (requester, type, step, result fields). */
  fields: Array<{ label: string; value: string }>;
  /** Where things stand: "Waiting for your decision", "Approved by alice on slack at 2026-11-24 10:00 UTC". */
  status: { tone: Tone; text: string };
  /** Only on an open approval task: the buttons, each carrying an opaque value back in the click. */
  actions?: { approve: CardButton; reject: CardButton };
  /** The message in the console. */
  link?: { label: string; url: string };
  /**
   * The same for every attempt to send this one card and different for any other card: platforms
   * that de-duplicate sends (Feishu's uuid, DingTalk's outTrackId) derive their key from it.
   */
  sendKey?: string;
}

export interface CardButton {
  label: string;
  /** Opaque, signed by the hub (action-token.ts); at most 512 characters. */
  value: string;
}

/** Where a sent card is, in the platform's terms (Slack: channel and ts; Feishu: message_id; ...). JSON-safe. */
export type CardRef = Record<string, string>;

/** One HTTP request the platform sent to `/v1/platforms/<name>/callback`, exactly as received. */
export interface InboundRequest {
  method: string;
  /** Query parameters (WeCom and some handshakes carry their signature there). */
  query: Record<string, string>;
  /** Header names in lower case. */
  headers: Record<string, string>;
  /** The raw body: signatures cover these bytes, not a re-serialized parse. */
  body: Buffer;
  /** Now (ms, from the hub's clock): signature windows are checked against it. */
  now: number;
}

export interface HttpAnswer {
  status: number;
  headers?: Record<string, string>;
  body?: string;
  /** Set on a refusal that names its cause: the callback route answers this problem document instead. */
  problem?: CallbackProblem;
}

/** How the clicked card should look after the click, and a short notice for the clicker. */
export interface ActionReply {
  card: CardContent;
  notice?: { tone: 'success' | 'error'; text: string };
}

export interface CardAction {
  kind: 'action';
  /** The platform's id for this click: a redelivered callback carries the same id. */
  eventId: string;
  /** The clicker's platform user id, as the verified request states it. */
  user: string;
  /** The value of the clicked button (CardButton.value). */
  value: string;
  /** The clicked card, when the request says where it is. */
  ref?: CardRef;
  /** The platform's answer to this request, showing the reply (within the platform's deadline). */
  answer(reply: ActionReply): Promise<HttpAnswer> | HttpAnswer;
}

export type Inbound =
  /** A handshake (URL verification, echo) or an event that is not a click: answer it, do nothing else. */
  | { kind: 'answer'; answer: HttpAnswer }
  /**
   * A request that fails verification (signature, timestamp window, token, decryption), names another
   * app or tenant, or cannot be read (callback-refusal.ts): nothing happens.
   */
  | Refused
  | CardAction;

export interface ChatAdapter {
  /** The platform's name in the configuration: 'slack', 'teams', 'feishu', 'dingtalk', 'wecom', 'email'. */
  readonly name: string;
  readonly capabilities: PlatformCapabilities & {
    /** How long after sending a card can still be deleted (WeCom recalls within 24 hours). */
    deleteWindowMs?: number;
  };
  /** The platform's deadline for answering a callback (Slack 3 s): the hub answers sooner. */
  readonly callbackDeadlineMs: number;
  /** Sends a new card to one person, by platform user id (email: the address). */
  send(to: string, card: CardContent): Promise<ApiOutcome<CardRef>>;
  /** Replaces a sent card (when capabilities.updatesSent). */
  update?(ref: CardRef, card: CardContent): Promise<ApiOutcome>;
  /** Deletes a sent card (when capabilities.deletes). */
  remove?(ref: CardRef): Promise<ApiOutcome>;
  /** Posts a card under a sent one, in its thread (when capabilities.replies). */
  reply?(ref: CardRef, card: CardContent): Promise<ApiOutcome<CardRef>>;
  /** Verifies and reads one request the platform sent to the hub's callback URL. */
  receive?(req: InboundRequest): Promise<Inbound>;
  /** Releases connections (an SMTP pool); called once when the hub stops. */
  close?(): Promise<void>;
}

/** A small key-value memory per platform, shared by every hub process (Teams conversation references, WeCom response codes). */
export interface PlatformMemory {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs?: number): Promise<void>;
}

/** What every adapter is constructed with, besides its own settings. */
export interface AdapterContext {
  /** Outbound allow-list (configuration `network.allow`): API base URLs are checked against it. */
  allow: readonly string[];
  clock: Clock;
  memory: PlatformMemory;
}
