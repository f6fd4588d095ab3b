/** What the page knows, shared by its parts; one object for the whole tab's life. */
import type { DemoJson, StatusJson } from './wire.ts';

export interface DashboardState {
  /** The last GET status that arrived (null until one has). */
  status: StatusJson | null;
  /** The demo controls; false once the server said it has none (404), null until known. */
  demo: DemoJson | false | null;
  /** The action token, when unlocked (also in sessionStorage under TOKEN_KEY). */
  token: string | null;
  /** The timeline's kind filters: false hides a kind; a kind seen for the first time is shown. */
  kinds: Record<string, boolean>;
  /** The timeline's text filter. */
  filter: string;
  sseOpen: boolean;
  fetchOk: boolean;
  /** A refresh runs; `again` asks for one more when it is over. */
  fetching: boolean;
  again: boolean;
  /** What the timeline was last built from: it is rebuilt only when this changes. */
  timelineKey: string;
  busy: boolean;
}

/** sessionStorage's key for the token: this tab only, gone when it closes. */
export const TOKEN_KEY = 'outlast.token';

export const state: DashboardState = {
  status: null,
  demo: null,
  token: null,
  kinds: {},
  filter: '',
  sseOpen: false,
  fetchOk: false,
  fetching: false,
  again: false,
  timelineKey: '',
  busy: false,
};
