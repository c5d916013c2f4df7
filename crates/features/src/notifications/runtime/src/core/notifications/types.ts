/** A notification system as the generator resolved it: tables quoted, columns by role (names). */
export interface NotifyDef {
  notifications: {
    table: string;
    id: string;
    idType: string;
    recipient: string;
    message: string;
    status: string;
    channel?: string;
    title?: string;
    data?: string;
    sentAt?: string;
    readAt?: string;
    failedReason?: string;
    retryCount?: string;
    priority?: string;
    category?: string;
    expiresAt?: string;
    createdAt?: string;
  };
  /** The notifications table is tenant-scoped: its tenant column and the setting RLS reads. */
  tenant?: { column: string; setting: string; type: string };
  /** In-app notifications are pushed over WebSockets as they are delivered. */
  realtime: boolean;
  templates?: { table: string; name: string; body: string; subject?: string; channel?: string; active?: string };
  preferences?: {
    table: string;
    user: string;
    /** Channel → its on/off column (`email` → `email_enabled`). */
    channels: Record<string, string>;
    categories?: string;
    quietStart?: string;
    quietEnd?: string;
    timezone?: string;
  };
  deliveries?: {
    table: string;
    id: string;
    notification: string;
    status: string;
    provider?: string;
    providerId?: string;
    deliveredAt?: string;
    error?: string;
  };
  /** `verifiedSql`: the condition (on users `u`) that the address was confirmed. */
  users: { table: string; id: string; email: string; deletedAt?: string; verifiedSql: string };
  /** Sending to anyone but yourself needs it. */
  permission: string;
}

/** Channels the workers deliver on. */
export const CHANNELS = ['email', 'in-app', 'sms', 'push'] as const;
export type Channel = (typeof CHANNELS)[number];

/** 2 = urgent: through quiet hours. */
export const URGENT = 2;
