/**
 * The tag every order placed from a confirmation card carries: Upstox finds the order by it
 * when its answer was lost, and the order flow knows the card already showed it placed.
 */
export const CARD_TAG_PREFIX = "uab-";
export const cardTag = (cardId: string) => `${CARD_TAG_PREFIX}${cardId}`;
export const cardIdOfTag = (tag: string | null | undefined): string | undefined =>
  tag?.startsWith(CARD_TAG_PREFIX) ? tag.slice(CARD_TAG_PREFIX.length) : undefined;
