// SPDX-License-Identifier: MIT
// Which message each tab shows now: every selection takes a new ticket, and work that awaited
// something (the host, Thunderbird) paints only while its ticket is still the tab's latest.

export interface Ticket {
  readonly tabId: number;
  readonly messageId: number | null;
  readonly seq: number;
}

export class DisplayedMessages {
  private readonly latest = new Map<number, Ticket>();
  private seq = 0;

  /** A tab now shows `messageId` (null: none, or several); earlier tickets of the tab go stale. */
  select(tabId: number, messageId: number | null): Ticket {
    const ticket = {tabId, messageId, seq: ++this.seq};
    this.latest.set(tabId, ticket);
    return ticket;
  }

  /** The ticket is the latest of its tab. */
  isCurrent(ticket: Ticket): boolean {
    return this.latest.get(ticket.tabId)?.seq === ticket.seq;
  }

  /** The message a tab shows now, if exactly one. */
  messageOf(tabId: number): number | null {
    return this.latest.get(tabId)?.messageId ?? null;
  }

  forget(tabId: number): void {
    this.latest.delete(tabId);
  }
}
