// The contract between <message-view> and its tab modules.

/**
 * @typedef {object} TabContext
 * @property {string} id the message ID
 * @property {any} msg the message JSON (GET api/v1/message/{id})
 * @property {() => boolean} isCurrent false once the user moved on; async tabs check it before rendering
 * @property {{width?: string, remoteFor?: string, rawWrap?: boolean}} prefs view preferences that outlive one message
 *   (remoteFor: the one message whose preview may load remote content; rawWrap: wrap long lines in the Raw tab)
 */

export {};
